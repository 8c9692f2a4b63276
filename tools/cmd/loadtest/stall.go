package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"cyberimage/shared/job"
)

const (
	// stallRounds bounds how often probes are sent again when none reached
	// a hanging runner.
	stallRounds = 3
	// maxProbes bounds the probes of one round.
	maxProbes = 8
)

// stall sends jobs whose prompt carries the hang marker and checks the
// supervisor's watchdog gets them out: completed elsewhere after a recovery,
// or failed with a reason when every runner hangs.
//
// Which runner pulls a job is up to JetStream, so one probe alone may well
// land on a runner that does not hang. Each round therefore sends one probe
// per runner slot, at once, so every idle runner gets one; a round in which
// no probe hung is repeated, up to stallRounds.
func (h *harness) stall(ctx context.Context) {
	const stage = "stall"
	waitCtx, cancel := context.WithTimeout(ctx, h.opts.timeout)
	defer cancel()
	start := time.Now()
	for round := 1; round <= stallRounds; round++ {
		slots := h.runnerSlots(ctx)
		var ids []string
		for i := range slots {
			r := stallRequest(h.run, h.opts.hangMarker, round, i)
			h.events.expect(r.jobID())
			if err := h.publish(r); err != nil {
				h.rep.check(stage+": published", false, "%v", err)
				return
			}
			ids = append(ids, r.jobID())
		}
		h.rep.progress(stage, "round %d: published %d probe(s) with %q in the prompt, one per runner slot", round, len(ids), h.opts.hangMarker)
		if !h.ledger.waitEnded(waitCtx, ids, h.rep, stage) {
			h.stallUnfinished(ids, time.Since(start))
			return
		}
		var hung []string
		var ranOn []string
		for _, id := range ids {
			hist, _ := h.ledger.get(id)
			if len(hist.last.Recoveries) > 0 {
				hung = append(hung, id)
			}
			ranOn = append(ranOn, hist.last.Runner)
		}
		if len(hung) > 0 {
			h.judgeStall(ids, hung)
			return
		}
		h.rep.progress(stage, "round %d: every probe completed without hanging (on %s)", round, strings.Join(ranOn, ", "))
	}
	h.rep.check(stage+": a runner hung on the marker", false,
		"%d rounds of probes completed without a recovery: no runner hangs on %q (start one with CYBERIMAGE_FAULT_HANG_PROMPT=%s)",
		stallRounds, h.opts.hangMarker, h.opts.hangMarker)
}

// runnerSlots is the number of slots of healthy runners, so a round
// reaches each of them; 1 when the supervisor cannot tell. Busy counts come
// from heartbeats and lag, so they are not subtracted: a probe too many
// merely waits its turn.
func (h *harness) runnerSlots(ctx context.Context) int {
	runners, err := h.sup.runners(ctx)
	if err != nil {
		h.rep.progress("stall", "runner list: %v; sending one probe", err)
		return 1
	}
	slots := 0
	for _, r := range runners {
		if r.Health == "healthy" {
			slots += max(r.Slots, 0)
		}
	}
	return min(max(slots, 1), maxProbes)
}

// stallUnfinished fails the test for probes still running at the timeout.
func (h *harness) stallUnfinished(ids []string, waited time.Duration) {
	var open []string
	for _, id := range ids {
		hist, ok := h.ledger.get(id)
		switch {
		case !ok:
			open = append(open, id+" has no record (is ingest running?)")
		case !hist.last.Status.Terminal():
			open = append(open, fmt.Sprintf("%s is %s on %q after %d recoveries", id, hist.last.Status, hist.last.Runner, len(hist.last.Recoveries)))
		}
	}
	h.rep.check("stall: hung job ended", false, "unfinished after %s (is the supervisor's max_stalled_time well inside --timeout?)%s",
		waited.Round(100*time.Millisecond), sample(open))
}

// judgeStall checks how the round with a hung probe ended and reports the
// watchdog's timings for the first hung probe.
func (h *harness) judgeStall(ids, hung []string) {
	const stage = "stall"
	first, _ := h.ledger.get(hung[0])
	rec := first.last
	rc := rec.Recoveries[0]
	where := fmt.Sprintf("probe %s hung on %s", rec.JobID, rc.Runner)
	if e, ok := h.events.lastOf(rec.JobID, rc.Delivery); ok {
		where += fmt.Sprintf(" at step %d/%d", e.Step, e.TotalSteps)
	}
	h.rep.check(stage+": a runner hung on the marker", true, "%s; %d of %d probes hung", where, len(hung), len(ids))

	var bad, outcomes, notOnce []string
	for _, id := range ids {
		hist, _ := h.ledger.get(id)
		r := hist.last
		switch {
		case r.Status == job.StatusCompleted && len(r.Recoveries) > 0:
			outcomes = append(outcomes, fmt.Sprintf("%s completed on %s after %d recovery(ies): %s", id, r.Runner, len(r.Recoveries), r.Recoveries[0].Reason))
		case r.Status == job.StatusCompleted:
		case r.Status == job.StatusFailed && r.Error != nil && r.Error.Message != "":
			outcomes = append(outcomes, fmt.Sprintf("%s failed (every runner hung): %s", id, r.Error.Error()))
		default:
			bad = append(bad, fmt.Sprintf("%s ended %s without a reason", id, r.Status))
		}
		want := 0
		if r.Status == job.StatusCompleted {
			want = 1
		}
		if hist.completions != want {
			notOnce = append(notOnce, fmt.Sprintf("%s written completed %d times", id, hist.completions))
		}
	}
	for _, o := range outcomes {
		h.rep.progress(stage, "%s", o)
	}
	h.rep.check(stage+": hung job ended", len(bad) == 0, "%s%s", strings.Join(outcomes, "; "), sample(bad))
	h.rep.check(stage+": completed exactly once", len(notOnce) == 0, "%d/%d probes written completed as often as their outcome says%s", len(ids)-len(notOnce), len(ids), sample(notOnce))

	// Detection counts from the start of the delivery that hung, as the
	// watchdog does; the record's first start stands in if the ledger
	// missed that delivery.
	started, ok := first.deliveries[rc.Delivery]
	if !ok && rec.StartedAt != nil {
		started = *rec.StartedAt
	}
	if !started.IsZero() {
		h.rep.figure(stage+": detection time", "%s (delivery start → recoveries[0].at)", roundDur(rc.At.Sub(started)))
	}
	if rec.Status == job.StatusCompleted && rec.CompletedAt != nil {
		h.rep.figure(stage+": recovery time", "%s (recoveries[0].at → completed_at)", roundDur(rec.CompletedAt.Sub(rc.At)))
	}
	h.rep.figure(stage+": outcome", "%s after %d attempt(s), %d recovery(ies)", rec.Status, rec.Attempts, len(rec.Recoveries))
}
