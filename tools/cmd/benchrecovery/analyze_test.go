package main

import (
	"slices"
	"testing"
	"time"

	"cyberimage/shared/job"
)

func TestAnalyzeReadsEachFaultFromTheHistories(t *testing.T) {
	by := func(s float64, seq uint64, delivered int, runner, boot string) claim {
		return claim{at: at(s), seq: seq, delivered: delivered, runner: runner, boot: boot}
	}
	killedHeld := by(0, 1, 1, "runner-1", "b1")
	frozenHeld := by(100, 3, 1, "runner-2", "b2")
	jobs := map[string]history{
		// Held by runner-1 when it was killed at 2 s; running again on
		// runner-2 at 9 s, completed once.
		"A": {created: at(-1), claims: []claim{killedHeld, by(9, 1, 2, "runner-2", "b2")},
			completions: []claim{by(12, 1, 2, "runner-2", "b2")}, status: job.StatusCompleted},
		// Prefetched by runner-1 before the kill: first claimed on its
		// second delivery once AckWait ran out.
		"B": {created: at(1), claims: []claim{by(60, 2, 2, "runner-3", "b3")},
			completions: []claim{by(63, 2, 2, "runner-3", "b3")}, status: job.StatusCompleted},
		// Held by runner-2 when frozen at 101 s: taken at 108 s, and the
		// thawed runner's result got in too (the fence failed).
		"C": {created: at(99), claims: []claim{frozenHeld, by(108, 3, 2, "runner-3", "b3")},
			completions: []claim{by(112, 3, 2, "runner-3", "b3"), by(115, 3, 1, "runner-2", "b2")}, status: job.StatusCompleted},
		// In flight during the NATS freeze at 200-230 s, moved once, never
		// completed.
		"D": {created: at(195), claims: []claim{by(196, 4, 1, "runner-1", "b4"), by(215, 4, 2, "runner-3", "b3")},
			status: job.StatusProcessing},
		// Completed before the NATS freeze: not in flight.
		"E": {created: at(190), claims: []claim{by(191, 5, 1, "runner-3", "b3")},
			completions: []claim{by(194, 5, 1, "runner-3", "b3")}, status: job.StatusCompleted},
	}
	// Held by runner-3 when killed at 300 s, but its completion was
	// already on its way: finished, not lost and not "never ran again".
	lastHeld := by(290, 6, 1, "runner-3", "b3")
	jobs["G"] = history{created: at(289), claims: []claim{lastHeld},
		completions: []claim{{at: at(300.3), seq: 6, delivered: 1, runner: "runner-3", boot: "b3"}}, status: job.StatusCompleted}
	faults := []*fault{
		{n: 1, kind: runnerKilled, at: at(2), end: at(10), held: map[string]claim{"A": killedHeld}},
		{n: 2, kind: runnerFrozen, at: at(101), end: at(120), held: map[string]claim{"C": frozenHeld}},
		{n: 3, kind: natsFrozen, at: at(200), end: at(230)},
		{n: 4, kind: runnerKilled, at: at(300), end: at(310), held: map[string]claim{"G": lastHeld}},
	}
	done := []time.Time{at(12), at(63), at(112), at(100), at(194), at(300.3)}
	slices.SortFunc(done, time.Time.Compare)
	out, unattributed := analyze(faults, jobs, done)
	if unattributed != 0 {
		t.Errorf("unattributed = %d", unattributed)
	}
	kill, freeze, nats := out[0], out[1], out[2]
	if len(kill.again) != 1 || kill.again[0] != 7*time.Second || kill.never != 0 || kill.lost != 0 || kill.twice != 0 {
		t.Errorf("kill: %+v", kill)
	}
	if len(kill.stranded) != 1 || kill.stranded[0] != 58*time.Second {
		t.Errorf("kill: the prefetched job is %v, want 58s after the fault", kill.stranded)
	}
	if last := out[3]; last.finished != 1 || last.never != 0 || len(last.again) != 0 || last.lost != 0 {
		t.Errorf("a job finished as the kill came: %+v", last)
	}
	if kill.pause != 10*time.Second { // no completion before the kill: from it to the first, at 12 s
		t.Errorf("kill: pause %s", kill.pause)
	}
	if len(freeze.again) != 1 || freeze.again[0] != 7*time.Second || freeze.lateKept != 1 || freeze.twice != 1 {
		t.Errorf("freeze: %+v", freeze)
	}
	if len(nats.caught) != 1 || nats.caught[0] != "D" || nats.moved != 1 || nats.lost != 1 {
		t.Errorf("nats: caught %v, moved %d, lost %d", nats.caught, nats.moved, nats.lost)
	}
	sums := summarize(out)
	if ok, _ := sums[0].met(); ok {
		t.Error("a prefetched job running 58 s after the kill met the kill target")
	}
	claimedOnly := sums[0]
	claimedOnly.stranded = nil
	if ok, _ := claimedOnly.met(); !ok {
		t.Errorf("kill summary without the prefetched job not met: %+v", claimedOnly)
	}
	if ok, _ := sums[1].met(); ok {
		t.Error("a kept late result met the frozen runner's target")
	}
	if ok, _ := sums[2].met(); ok {
		t.Error("a lost job met the NATS target")
	}
	tot := count([]string{"A", "B", "C", "D", "E", "G"}, 2, jobs)
	if tot != (totals{accepted: 6, unanswered: 2, completed: 5, lost: 1, twice: 1, reruns: 3}) {
		t.Errorf("totals: %+v", tot)
	}
}
