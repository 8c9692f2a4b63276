package defaults

import (
	"testing"
	"time"
)

func TestPositiveKeepsOnlyPositiveValues(t *testing.T) {
	for _, tc := range []struct{ v, want int }{{0, 7}, {-3, 7}, {1, 1}, {9, 9}} {
		if got := Positive(tc.v, 7); got != tc.want {
			t.Errorf("Positive(%d, 7) = %d, want %d", tc.v, got, tc.want)
		}
	}
	if got := Positive(time.Duration(0), time.Second); got != time.Second {
		t.Errorf("an unset duration: %v, want 1s", got)
	}
	if got := Positive(2*time.Millisecond, time.Second); got != 2*time.Millisecond {
		t.Errorf("a set duration: %v, want 2ms", got)
	}
}
