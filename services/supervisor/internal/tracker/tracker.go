// Package tracker follows live activity that is not in KV: runner
// heartbeats and per-step progress events.
package tracker

import (
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"cyberimage/shared/bus"
)

// Runner is a runner as last heard of.
type Runner struct {
	bus.Heartbeat
	Health string `json:"health"` // healthy, or lost when its heartbeat stopped
}

// Progress is a job's latest progress event and when this supervisor
// received it: rules compare the receipt time with the supervisor's clock,
// never the event's own time, which comes from the runner's clock.
type Progress struct {
	bus.ProgressEvent
	ReceivedAt time.Time `json:"-"`
}

// Tracker holds the latest heartbeat of each runner and the latest progress
// event of each running job.
type Tracker struct {
	nc            *nats.Conn
	drops         *bus.Drops
	log           *zap.Logger
	runnerTimeout time.Duration
	now           func() time.Time

	mu       sync.RWMutex
	runners  map[string]bus.Heartbeat
	progress map[string]Progress
	subs     []*nats.Subscription
}

// New makes a Tracker; Start subscribes. Messages that do not decode are
// counted in drops (nil: a counter of its own).
func New(nc *nats.Conn, runnerTimeout time.Duration, drops *bus.Drops, logger *zap.Logger) *Tracker {
	if drops == nil {
		drops = bus.NewDrops(logger, time.Minute)
	}
	return &Tracker{nc: nc, drops: drops, log: logger.Named("tracker"), runnerTimeout: runnerTimeout, now: time.Now,
		runners: map[string]bus.Heartbeat{}, progress: map[string]Progress{}}
}

// Start subscribes to heartbeats and progress events.
func (t *Tracker) Start() error {
	hb, err := t.nc.Subscribe(bus.SubjectHeartbeatsAll, bus.Guard(t.drops, "heartbeat", func(m *nats.Msg) {
		h, err := bus.DecodeHeartbeat(m.Data)
		if err == nil && m.Subject != bus.HeartbeatSubject(h.Runner) {
			err = fmt.Errorf("%w: heartbeat of %q on another runner's subject", bus.ErrMalformed, h.Runner)
		}
		if err != nil {
			t.drops.Note("junk:heartbeat", m.Subject, err)
			return
		}
		// Liveness is judged by when the heartbeat arrived: a runner whose
		// clock is off must neither vanish nor linger in /status.
		h.At = t.now().UTC()
		t.mu.Lock()
		t.runners[h.Runner] = h
		t.mu.Unlock()
	}))
	if err != nil {
		return fmt.Errorf("subscribe heartbeats: %w", err)
	}
	ev, err := t.nc.Subscribe(bus.SubjectEventsAll, bus.Guard(t.drops, "event", func(m *nats.Msg) {
		e, err := bus.DecodeProgressEvent(m.Data)
		if err == nil && m.Subject != bus.EventSubject(e.JobID) {
			err = fmt.Errorf("%w: event of %q on another job's subject", bus.ErrMalformed, e.JobID)
		}
		if err != nil {
			t.drops.Note("junk:event", m.Subject, err)
			return
		}
		t.mu.Lock()
		defer t.mu.Unlock()
		if e.Status == "completed" || e.Status == "failed" {
			delete(t.progress, e.JobID)
			return
		}
		t.progress[e.JobID] = Progress{ProgressEvent: e, ReceivedAt: t.now()}
	}))
	if err != nil {
		_ = hb.Unsubscribe()
		return fmt.Errorf("subscribe events: %w", err)
	}
	t.subs = []*nats.Subscription{hb, ev}
	return nil
}

// Stop unsubscribes.
func (t *Tracker) Stop() {
	for _, s := range t.subs {
		_ = s.Unsubscribe()
	}
}

// Runners lists runners heard of, with their health; runners lost for ten
// timeouts are forgotten.
func (t *Tracker) Runners() []Runner {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]Runner, 0, len(t.runners))
	for id, h := range t.runners {
		age := now.Sub(h.At)
		if age > 10*t.runnerTimeout {
			delete(t.runners, id)
			continue
		}
		health := "healthy"
		if !t.alive(h, now) {
			health = "lost"
		}
		out = append(out, Runner{Heartbeat: h, Health: health})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Runner < out[j].Runner })
	return out
}

// Heartbeat returns a runner's latest heartbeat while it is alive (heard
// within the runner timeout).
func (t *Tracker) Heartbeat(runner string) (bus.Heartbeat, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	h, ok := t.runners[runner]
	if !ok || !t.alive(h, t.now()) {
		return bus.Heartbeat{}, false
	}
	return h, true
}

// alive: the runner was heard within the runner timeout (by receipt time).
func (t *Tracker) alive(h bus.Heartbeat, now time.Time) bool { return now.Sub(h.At) <= t.runnerTimeout }

// Progress returns the latest progress event of a job.
func (t *Tracker) Progress(jobID string) (Progress, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	e, ok := t.progress[jobID]
	return e, ok
}

// Forget drops progress of jobs no longer running, so the map stays
// bounded even when a final event was lost.
func (t *Tracker) Forget(running map[string]bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for id := range t.progress {
		if !running[id] {
			delete(t.progress, id)
		}
	}
}
