package main

import (
	"slices"
	"testing"
	"time"
)

// The index's lag at a moment is the age of the oldest completion it had
// not counted then; none when it had counted every one written so far.
func TestIndexLagIsTheAgeOfTheOldestUncountedCompletion(t *testing.T) {
	t0 := time.Unix(1000, 0)
	completions := []int64{t0.UnixNano(), t0.Add(time.Second).UnixNano(), t0.Add(3 * time.Second).UnixNano()}
	samples := []countSample{
		{at: t0.Add(500 * time.Millisecond), completed: 0},  // the first, 0.5 s old, not counted
		{at: t0.Add(1500 * time.Millisecond), completed: 2}, // both written so far counted
		{at: t0.Add(2 * time.Second), completed: 1},         // the second, 1 s old, not counted
		{at: t0.Add(4 * time.Second), completed: 3},         // all counted
	}
	got := indexLag(samples, completions)
	want := []time.Duration{500 * time.Millisecond, 0, time.Second, 0}
	if !slices.Equal(got, want) {
		t.Fatalf("lags %v, want %v", got, want)
	}
}

func TestJobShapeTravelsInThePrompt(t *testing.T) {
	s := jobShape{modelTime: 12345 * time.Millisecond, images: 1}
	if got := shapeOf(shapePrompt(s)); got != s.modelTime {
		t.Fatalf("shapeOf(%q) = %s, want %s", shapePrompt(s), got, s.modelTime)
	}
	if got := shapeOf("a neon koi pond"); got != 10*time.Second {
		t.Fatalf("a prompt from elsewhere runs %s, want 10s", got)
	}
}

func TestParseStepsWantsARisingList(t *testing.T) {
	if got, err := parseSteps("50, 200,500"); err != nil || !slices.Equal(got, []int{50, 200, 500}) {
		t.Fatalf("parseSteps = %v, %v", got, err)
	}
	for _, bad := range []string{"200,50", "0", "50,x", ""} {
		if _, err := parseSteps(bad); err == nil {
			t.Fatalf("parseSteps(%q) took it", bad)
		}
	}
}
