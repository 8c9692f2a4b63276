package tracker

import (
	"time"

	"cyberimage/shared/bus"
)

// incarnation is one process of a runner.
type incarnation struct{ runner, boot string }

// Orphan is a delivery a runner process held when it went away: its
// runner's name and the job as its last heartbeat listed it.
type Orphan struct {
	Runner string
	Job    bus.HeldJob
}

// noteIncarnation keeps the deliveries of a runner's previous process when
// a heartbeat shows another one (restarted under the same name): they died
// with it. Caller holds t.mu.
func (t *Tracker) noteIncarnation(old, h bus.Heartbeat) {
	if old.Boot == "" || h.Boot == "" || old.Boot == h.Boot || len(old.Jobs) == 0 {
		return
	}
	if t.orphans == nil {
		t.orphans = map[incarnation][]bus.HeldJob{}
	}
	t.orphans[incarnation{runner: h.Runner, boot: old.Boot}] = old.Jobs
}

// Orphans returns, once each, the deliveries held by runner processes that
// are gone: restarted as another incarnation, or silent for lostAfter
// (their last heartbeat's list) while the tracker listened that long. The
// caller hands back those that were never claimed (a prefetched delivery
// has no claim in its record, so only the runner's own list names it).
func (t *Tracker) Orphans(lostAfter time.Duration) []Orphan {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []Orphan
	for key, jobs := range t.orphans {
		for _, j := range jobs {
			out = append(out, Orphan{Runner: key.runner, Job: j})
		}
		delete(t.orphans, key)
	}
	if t.listening.IsZero() || now.Sub(t.listening) < lostAfter {
		return out
	}
	if t.handedBack == nil {
		t.handedBack = map[string]string{}
	}
	t.runners.each(func(runner string, h bus.Heartbeat, _ time.Time) {
		if now.Sub(h.At) <= lostAfter || len(h.Jobs) == 0 || t.handedBack[runner] == h.Boot+"@"+h.At.String() {
			return
		}
		t.handedBack[runner] = h.Boot + "@" + h.At.String()
		for _, j := range h.Jobs {
			out = append(out, Orphan{Runner: runner, Job: j})
		}
	})
	return out
}
