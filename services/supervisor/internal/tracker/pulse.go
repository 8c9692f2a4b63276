package tracker

import (
	"time"

	"cyberimage/shared/bus"
)

// pulse is how far one delivery's run has got, as its runner reports it
// in its own heartbeats: a runner's heartbeat subject is the one subject
// only that runner may publish on, so unlike a progress event (which any
// runner may publish for any job) a pulse cannot be forged by another.
type pulse struct {
	runner, delivery string
	step             int
	advancedAt       time.Time // when the step was last seen to move (zero: not yet)
	heardAt          time.Time
}

// notePulses keeps the steps a runner's heartbeat reports, and lets go of
// the deliveries its previous heartbeat (old; zero when none) listed and
// this one does not. Caller holds t.mu.
func (t *Tracker) notePulses(old, h bus.Heartbeat, now time.Time) {
	if h.Jobs == nil {
		return // a runner from before pulses (Pulse)
	}
	if t.pulses == nil {
		t.pulses = map[string]pulse{}
	}
	for _, j := range h.Jobs {
		key := pulseKey(h.Runner, j.JobID)
		old, seen := t.pulses[key]
		p := pulse{runner: h.Runner, delivery: j.Delivery, step: j.Step, heardAt: now}
		switch {
		case seen && old.delivery == j.Delivery:
			p.advancedAt = old.advancedAt
			if j.Step != old.step {
				p.advancedAt = now
			}
		case j.Step > 0:
			// First heard of mid-run (a supervisor that just started):
			// it moved at some point; count it from now.
			p.advancedAt = now
		}
		if !seen && len(t.pulses) >= t.limits.maxProgress {
			t.evicted[progressEvicted]++
			continue
		}
		t.pulses[key] = p
	}
	// Deliveries this runner no longer holds are done with. Only its
	// previous heartbeat's are looked at, not every runner's: a pulse of
	// this runner older than that heartbeat was let go then, or is pruned
	// with the runner.
	held := make(map[string]bool, len(h.Jobs))
	for _, j := range h.Jobs {
		held[j.JobID] = true
	}
	for _, j := range old.Jobs {
		if !held[j.JobID] {
			delete(t.pulses, pulseKey(h.Runner, j.JobID))
		}
	}
}

// pulseKey keys pulses by runner and job: a runner's heartbeat can only
// ever speak for its own deliveries, whatever job ids it names.
func pulseKey(runner, jobID string) string { return runner + "\x00" + jobID }

// Pulse says when the run of a delivery (its job, token and runner) was
// last seen to advance, by its runner's own heartbeats. reported is false
// when that runner was not heard: only then may the caller judge by the
// job's Progress instead. A runner whose heartbeats carry no steps
// predates them, and the supervisor no longer follows progress events: its
// runs are taken as advancing while it heartbeats (the stall rule still
// bounds them).
func (t *Tracker) Pulse(jobID, delivery, runner string) (advancedAt time.Time, reported bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	h, ok := t.runners.get(runner)
	if !ok {
		return time.Time{}, false
	}
	if h.Jobs == nil {
		return h.At, true
	}
	p, ok := t.pulses[pulseKey(runner, jobID)]
	if !ok || p.delivery != delivery {
		return time.Time{}, true
	}
	return p.advancedAt, true
}

// dropPulsesHeardBefore forgets pulses of runners silent since cutoff.
// Caller holds t.mu.
func (t *Tracker) dropPulsesHeardBefore(cutoff time.Time) int {
	n := 0
	for id, p := range t.pulses {
		if p.heardAt.Before(cutoff) {
			delete(t.pulses, id)
			n++
		}
	}
	return n
}
