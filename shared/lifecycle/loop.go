// Package lifecycle starts and stops the pipeline's background loops the
// same way everywhere: start once, stop once (a second Stop, or a Stop
// before Start, does nothing), and a Stop that cancels the pass in progress
// instead of waiting for it to notice. River's startstop services are the
// model.
package lifecycle

import (
	"context"
	"sync"
	"time"
)

// Loop runs a pass every interval (back to back when the interval is 0,
// for passes that block on their own, such as a fetch with a timeout)
// between Start and Stop. It may be started again after a Stop, which is
// how leader-only loops follow leadership.
type Loop struct {
	interval time.Duration
	pass     func(ctx context.Context)

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// NewLoop makes a loop; nothing runs until Start.
func NewLoop(interval time.Duration, pass func(ctx context.Context)) *Loop {
	return &Loop{interval: interval, pass: pass}
}

// Start begins running passes; it does nothing if the loop runs already.
// The first pass comes after one interval: loops that must act at once
// say so in their pass.
func (l *Loop) Start() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	l.cancel, l.done = cancel, done
	go func() {
		defer close(done)
		var tick <-chan time.Time
		if l.interval > 0 {
			t := time.NewTicker(l.interval)
			defer t.Stop()
			tick = t.C
		}
		for {
			if tick != nil {
				select {
				case <-ctx.Done():
					return
				case <-tick:
				}
			} else if ctx.Err() != nil {
				return
			}
			l.pass(ctx)
		}
	}()
}

// Stop cancels the pass in progress, waits for it to return, and stops the
// loop. It does nothing if the loop is not running.
func (l *Loop) Stop() {
	l.mu.Lock()
	cancel, done := l.cancel, l.done
	l.cancel, l.done = nil, nil
	l.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}

// Running reports whether the loop is started.
func (l *Loop) Running() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cancel != nil
}

// Group starts and stops several loops together: the supervisor's
// leader-only loops start when it gains the lease and stop when it loses
// it.
type Group []*Loop

// Start starts every loop.
func (g Group) Start() {
	for _, l := range g {
		l.Start()
	}
}

// Stop stops every loop, in reverse order.
func (g Group) Stop() {
	for i := len(g) - 1; i >= 0; i-- {
		g[i].Stop()
	}
}

// Follow starts the group when leading turns true and stops it when it
// turns false; it is the callback a lease calls on every change.
func (g Group) Follow(leading bool) {
	if leading {
		g.Start()
		return
	}
	g.Stop()
}
