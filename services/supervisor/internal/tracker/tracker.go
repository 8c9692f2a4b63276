// Package tracker follows live activity that is not in KV: runner
// heartbeats, and the progress of each running job they report (held.go).
// Both maps are keyed by ids that
// arrive on the bus, so both are bounded (bounds.go): pruned by age on the
// tracker's own ticker and capped by count.
package tracker

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"cyberimage/shared/bus"
	"cyberimage/shared/lifecycle"
)

// Runner is a runner as last heard of.
type Runner struct {
	bus.Heartbeat
	Health string `json:"health"` // healthy, or lost when its heartbeat stopped
}

// Progress is a job's latest progress, as the heartbeat of the runner
// holding its delivery reports it, and when this supervisor saw its step
// move: rules compare that with the supervisor's clock, never the
// heartbeat's own time, which comes from the runner's clock.
type Progress struct {
	bus.ProgressEvent
	ReceivedAt time.Time `json:"-"`
}

// Tracker holds the latest heartbeat of each runner and the latest progress
// of each running job.
type Tracker struct {
	nc            *nats.Conn
	drops         *bus.Drops
	log           *zap.Logger
	runnerTimeout time.Duration
	now           func() time.Time
	limits        limits
	subs          []*nats.Subscription
	// listening is when Start subscribed: a runner not heard of is taken
	// for gone only once the tracker has listened long enough to hear it.
	listening time.Time
	pruner    *lifecycle.Loop // prunes the maps every pruneEvery

	mu         sync.RWMutex
	runners    *recent[bus.Heartbeat]
	progress   *recent[Progress]
	pulses     map[string]pulse              // by job id, from heartbeats (pulse.go)
	orphans    map[incarnation][]bus.HeldJob // by runner and boot of a process gone (orphans.go)
	handedBack map[string]string             // runner → the last heartbeat whose orphans were taken
	evicted    [numEvictions]int64           // by evictionKind
	// lastCapped is what the caps had pushed out at the last prune, so
	// each pass says whether they did again.
	lastCapped [3]int64
}

// Option configures a Tracker.
type Option func(*Tracker)

// New makes a Tracker; Start subscribes. Messages that do not decode are
// counted in drops (nil: a counter of its own).
func New(nc *nats.Conn, runnerTimeout time.Duration, drops *bus.Drops, logger *zap.Logger, opts ...Option) *Tracker {
	if drops == nil {
		drops = bus.NewDrops(logger, time.Minute)
	}
	t := &Tracker{nc: nc, drops: drops, log: logger.Named("tracker"), runnerTimeout: runnerTimeout, now: time.Now,
		limits: defaultLimits(), runners: newRecent[bus.Heartbeat](), progress: newRecent[Progress]()}
	for _, o := range opts {
		o(t)
	}
	t.pruner = lifecycle.NewLoop(pruneEvery, func(context.Context) { t.prune() })
	return t
}

// Start subscribes to heartbeats and starts pruning.
func (t *Tracker) Start(ctx context.Context) error {
	hb, err := t.nc.Subscribe(bus.SubjectHeartbeatsAll, bus.Guard(t.drops, "heartbeat", func(m *nats.Msg) {
		if len(m.Data) > maxTrackedBytes {
			t.drops.Note("junk:heartbeat", m.Subject, fmt.Errorf("%w: heartbeat of %d bytes", bus.ErrMalformed, len(m.Data)))
			return
		}
		h, err := bus.DecodeHeartbeat(m.Data)
		if err == nil && m.Subject != bus.HeartbeatSubject(h.Runner) {
			err = fmt.Errorf("%w: heartbeat of %q on another runner's subject", bus.ErrMalformed, h.Runner)
		}
		if err != nil {
			t.drops.Note("junk:heartbeat", m.Subject, err)
			return
		}
		t.noteHeartbeat(h)
	}))
	if err != nil {
		return fmt.Errorf("subscribe heartbeats: %w", err)
	}
	t.subs = []*nats.Subscription{hb}
	t.mu.Lock()
	t.listening = t.now()
	t.mu.Unlock()
	return t.pruner.Start(ctx)
}

// Stop unsubscribes and stops pruning.
func (t *Tracker) Stop(ctx context.Context) error {
	for _, s := range t.subs {
		_ = s.Unsubscribe()
	}
	return t.pruner.Stop(ctx)
}

// noteHeartbeat keeps a runner's latest heartbeat, and the progress of
// the deliveries it holds.
func (t *Tracker) noteHeartbeat(h bus.Heartbeat) {
	// Liveness is judged by when the heartbeat arrived: a runner whose
	// clock is off must neither vanish nor linger in /status.
	now := t.now()
	h.At = now.UTC()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.makeRoomForRunner(h.Runner, now) {
		old, seen := t.runners.get(h.Runner)
		if seen {
			t.noteIncarnation(old, h)
		}
		t.runners.put(h.Runner, h, now)
		t.notePulses(old, h, now)
		t.noteHeld(old, seen, h, now)
	}
}

// Runners lists runners heard of, with their health; runners lost for
// runnerRetention are left out (and pruned).
func (t *Tracker) Runners() []Runner {
	now := t.now()
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]Runner, 0, t.runners.len())
	t.runners.each(func(_ string, h bus.Heartbeat, _ time.Time) {
		if now.Sub(h.At) > t.runnerRetention() {
			return
		}
		health := "healthy"
		if !t.alive(h, now) {
			health = "lost"
		}
		// The view leaves the deliveries' reply subjects out: whoever
		// holds one can ack or NAK the delivery.
		jobs := make([]bus.HeldJob, len(h.Jobs))
		for i, j := range h.Jobs {
			j.AckSubject = ""
			jobs[i] = j
		}
		h.Jobs = jobs
		out = append(out, Runner{Heartbeat: h, Health: health})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Runner < out[j].Runner })
	return out
}

// Heartbeat returns a runner's latest heartbeat while it is alive (heard
// within the runner timeout).
func (t *Tracker) Heartbeat(runner string) (bus.Heartbeat, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	h, ok := t.runners.get(runner)
	if !ok || !t.alive(h, t.now()) {
		return bus.Heartbeat{}, false
	}
	return h, true
}

// Gone says whether the runner process holding a delivery (the runner's
// name and the boot it claimed under) is gone, and why: a runner of that
// name announced another incarnation (restarted by its process manager),
// or none was heard for lostAfter while this tracker listened at least
// that long (killed, frozen, partitioned away). A supervisor that has just
// started hears every live runner within a heartbeat before it judges any.
func (t *Tracker) Gone(runner, boot string, lostAfter time.Duration) (string, bool) {
	now := t.now()
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.listening.IsZero() || now.Sub(t.listening) < lostAfter {
		return "", false
	}
	h, ok := t.runners.get(runner)
	switch {
	case !ok:
		return fmt.Sprintf("no heartbeat from runner %s in the %s this supervisor has listened", runner, now.Sub(t.listening).Round(time.Second)), true
	case now.Sub(h.At) > lostAfter:
		return fmt.Sprintf("no heartbeat from runner %s for %s, over runner_lost_after %s", runner, now.Sub(h.At).Round(time.Second), lostAfter), true
	case boot != "" && h.Boot != "" && h.Boot != boot:
		return fmt.Sprintf("runner %s restarted: it now runs as boot %s, the delivery was claimed by boot %s", runner, h.Boot, boot), true
	}
	return "", false
}

// alive: the runner was heard within the runner timeout (by receipt time).
func (t *Tracker) alive(h bus.Heartbeat, now time.Time) bool { return now.Sub(h.At) <= t.runnerTimeout }

// Progress returns the latest progress of a running job.
func (t *Tracker) Progress(jobID string) (Progress, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.progress.get(jobID)
}

// Forget drops progress of jobs no longer running, which /status knows:
// sooner than pruning, which waits for an event to age.
func (t *Tracker) Forget(running map[string]bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var gone []string
	t.progress.each(func(id string, _ Progress, _ time.Time) {
		if !running[id] {
			gone = append(gone, id)
		}
	})
	for _, id := range gone {
		t.progress.remove(id)
	}
}
