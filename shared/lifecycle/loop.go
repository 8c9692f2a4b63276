// Package lifecycle is how the pipeline's background work starts, retries
// and stops, the same way everywhere: every part with work in the
// background is a Component (Start(ctx) error, Stop(ctx) error); periodic
// work is a Loop over a one-pass function; every retry is Retry. Start
// once, stop once (a second Stop, or a Stop before Start, does nothing),
// and a Stop that cancels the pass in progress instead of waiting for it
// to notice. River's startstop services are the model.
//
// Names say which of two things a function is: a pass (Pass, SaveNow, ...)
// does its work once and returns; Run blocks, looping until its context
// ends; Start and Stop run a loop in the background.
package lifecycle

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Loop runs a pass every interval between Start and Stop: a Component.
// It may be started again after a Stop, which is how leader-only loops
// follow leadership.
type Loop struct {
	interval time.Duration
	pass     func(ctx context.Context)
	atOnce   bool

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// LoopOption changes how a Loop runs.
type LoopOption func(*Loop)

// AtOnce makes the first pass come as soon as the loop starts, in the
// loop's goroutine (Start does not wait for it), instead of one interval
// later.
func AtOnce() LoopOption { return func(l *Loop) { l.atOnce = true } }

// NewLoop makes a loop; nothing runs until Start. With interval 0 passes
// run back to back: for a pass that blocks on its own (a fetch with a
// timeout), or a Run that loops until its context ends (run once).
func NewLoop(interval time.Duration, pass func(ctx context.Context), opts ...LoopOption) *Loop {
	l := &Loop{interval: interval, pass: pass}
	for _, o := range opts {
		o(l)
	}
	return l
}

// Start begins running passes and returns nil; it does nothing if the
// loop runs already. ctx bounds only the start: the passes' context keeps
// its values but ends with Stop. The first pass comes after one interval
// unless the loop was made AtOnce.
func (l *Loop) Start(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cancel != nil {
		return nil
	}
	run, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	l.cancel, l.done = cancel, done
	go func() {
		defer close(done)
		if l.atOnce && run.Err() == nil {
			l.pass(run)
		}
		Every(run, l.interval, l.pass)
	}()
	return nil
}

// Stop cancels the pass in progress and waits for it to return, within
// ctx: a pass that ignores its cancelled context past ctx's deadline is an
// error (the loop is stopped all the same and its goroutine ends when the
// pass does). It does nothing if the loop is not running.
func (l *Loop) Stop(ctx context.Context) error {
	l.mu.Lock()
	cancel, done := l.cancel, l.done
	l.cancel, l.done = nil, nil
	l.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop loop: its pass did not return: %w", ctx.Err())
	}
}

// Running reports whether the loop is started.
func (l *Loop) Running() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cancel != nil
}

// Every runs pass every interval until ctx ends, the first one interval
// after it is called; with interval 0 passes run back to back. It is the
// body of every Loop, and the loop of a command that runs until it is
// stopped (bus.Keep).
func Every(ctx context.Context, interval time.Duration, pass func(ctx context.Context)) {
	if interval <= 0 {
		for ctx.Err() == nil {
			pass(ctx)
		}
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pass(ctx)
	}
}
