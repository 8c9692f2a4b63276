package benchstack

import (
	"flag"
	"slices"
	"testing"
	"time"
)

// TestQuickFlags: -quick sets the flags the command line left alone, of
// any kind, and never one it set.
func TestQuickFlags(t *testing.T) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	runners := fs.String("runners", "10,20", "")
	warmup := fs.Duration("warmup", time.Minute, "")
	window := fs.Duration("window", time.Minute, "")
	if err := fs.Parse([]string{"-window", "5s"}); err != nil {
		t.Fatal(err)
	}
	quickFlags(fs, map[string]string{"runners": "50", "warmup": "20s", "window": "30s"})
	if *runners != "50" || *warmup != 20*time.Second || *window != 5*time.Second {
		t.Errorf("runners %q, warmup %s, window %s; want 50, 20s and the command line's 5s", *runners, *warmup, *window)
	}
}

// TestRisingCounts: only lists that climb strictly, from 1 up, are taken.
func TestRisingCounts(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []int
	}{
		{"50", []int{50}},
		{"50, 200,500", []int{50, 200, 500}},
		{"200,50", nil},
		{"5,5", nil},
		{"0", nil},
		{"0,5", nil},
		{"50,x", nil},
		{"", nil},
	} {
		got, err := RisingCounts(tc.in)
		if (err == nil) != (tc.want != nil) || !slices.Equal(got, tc.want) {
			t.Errorf("RisingCounts(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

// TestValidSide: the job schema's bounds and multiple.
func TestValidSide(t *testing.T) {
	for n, want := range map[int]bool{64: true, 1024: true, 2048: true, 56: false, 2056: false, 100: false} {
		if got := ValidSide(n); got != want {
			t.Errorf("ValidSide(%d) = %v, want %v", n, got, want)
		}
	}
}
