package main

import (
	"slices"
	"time"

	"cyberimage/shared/job"
	"cyberimage/tools/internal/nearestrank"
)

// outcome is what one fault did to the jobs, read from the record
// bucket's history once the run has drained.
type outcome struct {
	f *fault
	// caught: the jobs the runner had claimed (runner faults), or every
	// job in flight during the window (NATS faults).
	caught []string
	again  []time.Duration // per claimed job: fault → claimed by another delivery
	never  int             // claimed jobs never claimed again
	// finished: claimed jobs whose own delivery completed them anyway (a
	// kill that came as the result was written).
	finished int
	// lateKept: results of the faulted delivery that made it in later (a
	// thawed runner's; the fence should drop every one).
	lateKept    int
	lost, twice int           // caught jobs never completed, completed more than once
	pause       time.Duration // longest pause in completions over [at, end]
	// moved: jobs claimed again inside the window (NATS faults: a runner
	// whose write timed out let its job go, or the supervisor could not
	// hear the runner).
	moved int
	// stranded: jobs the runner had fetched but not started (prefetched,
	// still queued), fault → their first claim.
	stranded []time.Duration
}

// analyze reads every fault's outcome from the histories and the sorted
// completion times; unattributed counts jobs first claimed on a second
// delivery that no fault explains.
func analyze(faults []*fault, jobs map[string]history, done []time.Time) (out []outcome, unattributed int) {
	for _, f := range faults {
		o := outcome{f: f, pause: longestPause(done, f.at, f.end)}
		if f.kind == natsFrozen {
			o.caught, o.moved = inFlight(jobs, f.at, f.end)
		}
		for id, c := range f.held {
			o.caught = append(o.caught, id)
			h := jobs[id]
			next, ok := claimAfter(h.claims, c)
			// The held delivery's own completion: written as the fault
			// came (the harness saw the claim a moment late), or later,
			// by a thawed runner whose result the fence let in.
			own := slices.IndexFunc(h.completions, c.same)
			asItCame := own >= 0 && h.completions[own].at.Before(f.at.Add(time.Second))
			switch {
			case ok:
				o.again = append(o.again, next.at.Sub(f.at))
			case asItCame:
				o.finished++
			default:
				o.never++
			}
			if own >= 0 && !asItCame {
				o.lateKept++
			}
		}
		for _, id := range o.caught {
			switch n := len(jobs[id].completions); {
			case n == 0:
				o.lost++
			case n > 1:
				o.twice++
			}
		}
		out = append(out, o)
	}
	// A job first claimed on its second delivery was fetched before by a
	// runner that never started it: by the first fault after it was made
	// and before that claim.
	for _, h := range jobs {
		if len(h.claims) == 0 || h.claims[0].delivered < 2 {
			continue
		}
		first := h.claims[0].at
		i := slices.IndexFunc(out, func(o outcome) bool { return o.f.at.After(h.created) && o.f.at.Before(first) })
		if i < 0 {
			unattributed++
			continue
		}
		out[i].stranded = append(out[i].stranded, first.Sub(out[i].f.at))
	}
	return out, unattributed
}

// claimAfter is the first claim by a later delivery of the same message.
func claimAfter(claims []claim, c claim) (claim, bool) {
	for _, n := range claims {
		if n.seq == c.seq && n.delivered > c.delivered {
			return n, true
		}
	}
	return claim{}, false
}

// inFlight lists the jobs made before to and not completed before from,
// and counts the claims inside [from, to] that took a job from an
// earlier claim.
func inFlight(jobs map[string]history, from, to time.Time) (ids []string, moved int) {
	for id, h := range jobs {
		if !h.created.Before(to) || (len(h.completions) > 0 && h.completions[0].at.Before(from)) {
			continue
		}
		ids = append(ids, id)
		for i, c := range h.claims {
			if i > 0 && c.at.After(from) && c.at.Before(to) {
				moved++
			}
		}
	}
	return ids, moved
}

// summary is one fault kind over the run.
type summary struct {
	kind                                   kind
	faults, caught                         int
	again, stranded                        []time.Duration
	never, finished, lateKept, lost, twice int
	moved                                  int
	pause                                  time.Duration
}

func summarize(out []outcome) []summary {
	var sums []summary
	for _, k := range []kind{runnerKilled, runnerFrozen, natsFrozen} {
		s := summary{kind: k}
		for _, o := range out {
			if o.f.kind != k {
				continue
			}
			s.faults++
			s.caught += len(o.caught)
			s.again = append(s.again, o.again...)
			s.stranded = append(s.stranded, o.stranded...)
			s.never += o.never
			s.finished += o.finished
			s.lateKept += o.lateKept
			s.lost += o.lost
			s.twice += o.twice
			s.moved += o.moved
			s.pause = max(s.pause, o.pause)
		}
		if s.faults > 0 {
			sums = append(sums, s)
		}
	}
	return sums
}

// Targets of the issue ("Recover in seconds").
const (
	targetAgain = 10 * time.Second // runner killed or frozen → job running elsewhere, p99
	targetPause = 15 * time.Second // hung NATS node → longest pause in completions
)

// met says whether a kind met its targets, and what each target is. Every
// job the runner held counts: those it had claimed, and those it had
// fetched but not started (prefetched), which are as much the fault's.
func (s summary) met() (bool, string) {
	clean := s.lost == 0 && s.twice == 0
	held := append(slices.Clone(s.again), s.stranded...)
	switch s.kind {
	case runnerKilled:
		return clean && s.never == 0 && nearestrank.Percentile(held, 99) <= targetAgain, "p99 ≤ 10 s; 0 lost, 0 done twice"
	case runnerFrozen:
		return clean && s.never == 0 && s.lateKept == 0 && nearestrank.Percentile(held, 99) <= targetAgain,
			"p99 ≤ 10 s; late result dropped; 0 lost, 0 done twice"
	default:
		return clean && s.pause <= targetPause, "longest pause ≤ 15 s; 0 lost, 0 done twice"
	}
}

// totals are the whole run's jobs. reruns counts every claim after a
// job's first: the faults explain some; the rest are runners judged lost
// while alive (a starved heartbeat) or other redeliveries.
type totals struct {
	accepted, unanswered, completed, failed, lost, twice int
	reruns                                               int
}

func count(accepted []string, unanswered int, jobs map[string]history) totals {
	t := totals{accepted: len(accepted), unanswered: unanswered}
	for _, id := range accepted {
		h := jobs[id]
		switch n := len(h.completions); {
		case n == 0:
			t.lost++
			if h.status == job.StatusFailed {
				t.failed++
			}
		case n > 1:
			t.twice++
		}
		if n := len(h.completions); n > 0 {
			t.completed++
		}
		t.reruns += max(len(h.claims)-1, 0)
	}
	return t
}
