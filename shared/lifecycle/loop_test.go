package lifecycle

import (
	"context"
	"sync/atomic"
	"testing"
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
	l.Start()
	<-started
	stopped := make(chan struct{})
	go func() { l.Stop(); close(stopped) }()
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
	l.Stop()
	l.Start()
	l.Start()
	for range 5 {
		<-passes
	}
	l.Stop()
	l.Stop()
	if most.Load() != 1 {
		t.Fatalf("%d passes ran at once", most.Load())
	}
	for len(passes) > 0 {
		<-passes
	}
	l.Start()
	<-passes
	l.Stop()
}

// TestGroupFollowsLeadership: the group runs only while leading.
func TestGroupFollowsLeadership(t *testing.T) {
	a := NewLoop(time.Hour, func(context.Context) {})
	b := NewLoop(time.Hour, func(context.Context) {})
	g := Group{a, b}
	g.Follow(true)
	if !a.Running() || !b.Running() {
		t.Fatal("not started on gaining the lead")
	}
	g.Follow(true)
	g.Follow(false)
	if a.Running() || b.Running() {
		t.Fatal("still running after losing the lead")
	}
	g.Follow(false)
}
