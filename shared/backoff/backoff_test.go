package backoff

import (
	"testing"
	"time"
)

func TestDelayDoublesCapsAndJitters(t *testing.T) {
	p := Policy{Base: time.Second, Max: 10 * time.Second, Jitter: 0.2}
	for attempt, want := range map[int]time.Duration{0: time.Second, 1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second,
		4: 8 * time.Second, 5: 10 * time.Second, 60: 10 * time.Second} {
		seen := map[time.Duration]bool{}
		for range 50 {
			d := p.Delay(attempt)
			if d < want*8/10 || d > want*12/10 {
				t.Fatalf("attempt %d: %s outside %s ±20%%", attempt, d, want)
			}
			seen[d] = true
		}
		if len(seen) < 2 {
			t.Fatalf("attempt %d: no jitter", attempt)
		}
	}
	exact := Policy{Base: 100 * time.Millisecond, Max: time.Second}
	if d := exact.Delay(3); d != 400*time.Millisecond {
		t.Fatalf("without jitter: %s", d)
	}
}
