package testenv

import "sync"

// Race runs write in n goroutines at once, each given its number, and
// returns when all have: the racing writers of a compare-and-set test.
func Race(n int, write func(i int)) {
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { write(i) })
	}
	wg.Wait()
}
