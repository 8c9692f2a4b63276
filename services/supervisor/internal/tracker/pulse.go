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

// notePulses keeps the steps a runner's heartbeat reports. Caller holds
// t.mu.
func (t *Tracker) notePulses(h bus.Heartbeat, now time.Time) {
	if h.Jobs == nil {
		return // a runner from before pulses: the silence rule reads its events
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
	// Deliveries this runner no longer holds are done with.
	held := make(map[string]bool, len(h.Jobs))
	for _, j := range h.Jobs {
		held[pulseKey(h.Runner, j.JobID)] = true
	}
	for key, p := range t.pulses {
		if p.runner == h.Runner && !held[key] {
			delete(t.pulses, key)
		}
	}
}

// pulseKey keys pulses by runner and job: a runner's heartbeat can only
// ever speak for its own deliveries, whatever job ids it names.
func pulseKey(runner, jobID string) string { return runner + "\x00" + jobID }

// Pulse says when the run of a delivery (its job, token and runner) was
// last seen to advance, by its runner's own heartbeats. reported is false
// when that runner's heartbeats carry no steps (it predates them): only
// then may the caller judge by progress events instead.
func (t *Tracker) Pulse(jobID, delivery, runner string) (advancedAt time.Time, reported bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	h, ok := t.runners.get(runner)
	if !ok || h.Jobs == nil {
		return time.Time{}, false
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
