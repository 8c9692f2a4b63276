package lifecycle

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestStopCancelsThePassInProgress: a pass blocked on its context ends as
// soon as Stop is called, not when it would have finished.
func TestStopCancelsThePassInProgress(t *testing.T) {
	started := make(chan struct{}, 1)
	l := NewLoop(0, func(ctx context.Context) {
		select {
		case started <- struct{}{}:
		default:
		}
		<-ctx.Done()
	})
	l.Start(t.Context())
	<-started
	stopped := make(chan struct{})
	go func() { l.Stop(t.Context()); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("Stop did not interrupt the pass")
	}
	if l.Running() {
		t.Fatal("still running after Stop")
	}
}

// TestStartAndStopAreIdempotent: a second Start runs no second loop; Stop
// before Start, and a second Stop, do nothing; a stopped loop restarts.
func TestStartAndStopAreIdempotent(t *testing.T) {
	var active, most atomic.Int32
	passes := make(chan struct{}, 100)
	l := NewLoop(time.Millisecond, func(ctx context.Context) {
		n := active.Add(1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		active.Add(-1)
		select {
		case passes <- struct{}{}:
		default:
		}
	})
	l.Stop(t.Context())
	l.Start(t.Context())
	l.Start(t.Context())
	for range 5 {
		<-passes
	}
	l.Stop(t.Context())
	l.Stop(t.Context())
	if most.Load() != 1 {
		t.Fatalf("%d passes ran at once", most.Load())
	}
	for len(passes) > 0 {
		<-passes
	}
	l.Start(t.Context())
	<-passes
	l.Stop(t.Context())
}

// TestGroupFollowsLeadership: the group runs only while leading.
func TestGroupFollowsLeadership(t *testing.T) {
	a := NewLoop(time.Hour, func(context.Context) {})
	b := NewLoop(time.Hour, func(context.Context) {})
	g := Group{a, b}
	_ = g.Follow(true)
	if !a.Running() || !b.Running() {
		t.Fatal("not started on gaining the lead")
	}
	_ = g.Follow(true)
	_ = g.Follow(false)
	if a.Running() || b.Running() {
		t.Fatal("still running after losing the lead")
	}
	_ = g.Follow(false)
}

// TestAtOnceRunsTheFirstPassAtStart: a loop made AtOnce passes as it
// starts, then every interval; one without passes first after an
// interval.
func TestAtOnceRunsTheFirstPassAtStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var now, later atomic.Int32
		a := NewLoop(time.Minute, func(context.Context) { now.Add(1) }, AtOnce())
		b := NewLoop(time.Minute, func(context.Context) { later.Add(1) })
		_ = a.Start(t.Context())
		_ = b.Start(t.Context())
		synctest.Wait()
		if now.Load() != 1 || later.Load() != 0 {
			t.Fatalf("at start: %d and %d passes, want 1 and 0", now.Load(), later.Load())
		}
		<-time.After(time.Minute) // the bubble's clock: no real wait
		synctest.Wait()
		if now.Load() != 2 || later.Load() != 1 {
			t.Fatalf("after an interval: %d and %d passes, want 2 and 1", now.Load(), later.Load())
		}
		_ = a.Stop(t.Context())
		_ = b.Stop(t.Context())
	})
}

// TestStopEndsAtItsDeadline: a pass that ignores its cancelled context
// holds Stop only until Stop's own deadline, which it reports.
func TestStopEndsAtItsDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		l := NewLoop(0, func(context.Context) { <-release }, AtOnce())
		_ = l.Start(t.Context())
		synctest.Wait()
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		if err := l.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Stop returned %v, want the deadline", err)
		}
		if l.Running() {
			t.Fatal("still running after Stop")
		}
		close(release)
	})
}

// TestEveryPassesEachIntervalUntilItsContextEnds: Every blocks, passing
// once per interval, and returns when its context ends.
func TestEveryPassesEachIntervalUntilItsContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 3500*time.Millisecond)
		defer cancel()
		passes := 0
		Every(ctx, time.Second, func(context.Context) { passes++ })
		if passes != 3 {
			t.Fatalf("%d passes in 3.5 intervals, want 3", passes)
		}
	})
}

// TestGroupJoinsErrors: every component starts and stops even when one
// fails, and the failures come back joined.
func TestGroupJoinsErrors(t *testing.T) {
	bad := errors.New("bad")
	var started, stopped int
	ok := componentFunc{start: func() error { started++; return nil }, stop: func() error { stopped++; return nil }}
	failing := componentFunc{start: func() error { started++; return bad }, stop: func() error { stopped++; return bad }}
	g := Group{ok, failing, ok}
	if err := g.Start(t.Context()); !errors.Is(err, bad) || started != 3 {
		t.Fatalf("Start: %v after %d starts", err, started)
	}
	if err := g.Stop(t.Context()); !errors.Is(err, bad) || stopped != 3 {
		t.Fatalf("Stop: %v after %d stops", err, stopped)
	}
}

type componentFunc struct{ start, stop func() error }

func (c componentFunc) Start(context.Context) error { return c.start() }
func (c componentFunc) Stop(context.Context) error  { return c.stop() }
