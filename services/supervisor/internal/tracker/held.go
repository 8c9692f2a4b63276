package tracker

import (
	"time"

	"cyberimage/services/supervisor/internal/acks"
	"cyberimage/shared/bus"
	"cyberimage/shared/job"
)

// A running job's progress, as /status, the runner and job pages and the
// watchdog's fallback read it, comes from the heartbeats of the runners
// that hold its deliveries (each lists its deliveries and their steps),
// not from the jobs' progress events: those are a message a step per job,
// most of what a fleet sends, and the supervisor follows them only while
// someone watches a stream of them (api/events.go).

// noteHeld keeps the progress of each delivery a runner's heartbeat lists
// and lets go of the jobs its previous heartbeat (old, when seen) listed
// and this one does not: ended, or handed back. Only the runner's own
// deliveries are looked at, so a heartbeat costs the same however large
// the fleet. Caller holds t.mu.
func (t *Tracker) noteHeld(old bus.Heartbeat, seen bool, h bus.Heartbeat, now time.Time) {
	held := make(map[string]bool, len(h.Jobs))
	for _, j := range h.Jobs {
		held[j.JobID] = true
		t.noteProgress(bus.ProgressEvent{JobID: j.JobID, Status: job.StatusProcessing, Step: j.Step, TotalSteps: j.TotalSteps,
			Runner: h.Runner, Delivery: j.Delivery, At: h.At}, now)
	}
	if !seen {
		return
	}
	for _, j := range old.Jobs {
		if held[j.JobID] {
			continue
		}
		if p, ok := t.progress.get(j.JobID); ok && p.Runner == h.Runner && p.Delivery == j.Delivery {
			t.progress.remove(j.JobID)
		}
	}
}

// noteProgress keeps a delivery's progress as the job's, unless the job's
// progress is another runner's of a later delivery: the runner of an
// earlier one (handed back, taken away) may report it until it lets go,
// and is not the job's progress any more. ReceivedAt is when the step was
// last seen to move. Caller holds t.mu.
func (t *Tracker) noteProgress(e bus.ProgressEvent, now time.Time) {
	cur, known := t.progress.get(e.JobID)
	if known && cur.Runner != e.Runner && laterDelivery(cur.Delivery, e.Delivery) {
		return
	}
	p := Progress{ProgressEvent: e, ReceivedAt: now}
	if known && cur.Runner == e.Runner && cur.Delivery == e.Delivery && cur.Step == e.Step {
		p.ReceivedAt = cur.ReceivedAt
	}
	t.makeRoomForProgress(e.JobID)
	t.progress.put(e.JobID, p, now)
}

// laterDelivery says whether delivery token a ("<stream_seq>.<delivered>")
// is of a later delivery than b: a later message of the job (a retry
// queues it again) or a later delivery of the same one. A token that does
// not parse is the earliest.
func laterDelivery(a, b string) bool {
	as, ad, _ := acks.ParseToken(a)
	bs, bd, _ := acks.ParseToken(b)
	return as > bs || (as == bs && ad > bd)
}
