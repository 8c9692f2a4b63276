package main

import (
	"sync"
	"time"
)

// waitWorkers waits for wg's workers, calling progress every 2 s so that a
// long measurement shows it is alive. The first error a worker sends on
// errs is returned once every worker has stopped: each stops on its own
// error or when its context ends, so nothing outlives the measurement.
func waitWorkers(wg *sync.WaitGroup, errs <-chan error, progress func()) error {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return nil
		case err := <-errs:
			<-done
			return err
		case <-tick.C:
			progress()
		}
	}
}
