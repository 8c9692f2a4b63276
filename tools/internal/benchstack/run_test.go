package benchstack

import (
	"flag"
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
