package main

import (
	"math/rand/v2"
	"testing"
	"time"
)

// at is s seconds into the tests' timelines, which start at a fixed
// moment so a failure reads the same on every run.
func at(s float64) time.Time {
	return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(s * float64(time.Second)))
}

func TestLongestPauseCountsFromTheLastCompletionBeforeTheWindow(t *testing.T) {
	done := []time.Time{at(0), at(1), at(2), at(14), at(15), at(16), at(30)}
	for _, c := range []struct {
		name     string
		from, to float64
		want     float64
	}{
		// The fault at 5 s: completions had stopped at 2 s and came back
		// at 14: 9 s of it are the fault's.
		{"counted from the fault", 5, 10, 9},
		{"a quiet window ends at its first completion after", 0.5, 1.5, 1},
		{"the longest of several gaps in the window", 1.5, 20, 14},
		{"a pause that outlasts the window counts whole", 17, 25, 13},
		{"no completion after the window: up to its end", 31, 40, 9},
		{"before the first completion", -3, -1, 3},
	} {
		if got := longestPause(done, at(c.from), at(c.to)); got != time.Duration(c.want*float64(time.Second)) {
			t.Errorf("%s: longestPause = %s, want %.0fs", c.name, got, c.want)
		}
	}
	if got := longestPause(nil, at(0), at(4)); got != 4*time.Second {
		t.Errorf("no completions at all: %s, want the whole window", got)
	}
	// A baseline cut at its end: the pause that a fault at 5 s began is
	// not the baseline's.
	if got := longestPause(before(done, at(5)), at(0.5), at(5)); got != 3*time.Second {
		t.Errorf("baseline up to 5 s: %s, want 3s (2 s to the window's end)", got)
	}
}

func TestScheduleShufflesEveryFault(t *testing.T) {
	kinds := schedule(rand.New(rand.NewPCG(1, 2)), 20, 5, 3)
	n := map[kind]int{}
	for _, k := range kinds {
		n[k]++
	}
	if len(kinds) != 28 || n[runnerKilled] != 20 || n[runnerFrozen] != 5 || n[natsFrozen] != 3 {
		t.Fatalf("schedule: %d faults, by kind %v", len(kinds), n)
	}
	sorted := true
	for i := 1; i < len(kinds); i++ {
		sorted = sorted && kinds[i-1] <= kinds[i]
	}
	if sorted {
		t.Error("schedule left the kinds in order")
	}
}
