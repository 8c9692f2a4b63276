package job

import (
	"strings"
	"testing"
	"time"
)

func TestTakeAwayThenGiveUp(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	d := &Delivery{StreamSeq: 7, Delivered: 3, Runner: "r1"}
	r := Record{Status: StatusProcessing, Runner: "r1", Attempts: 3, Delivery: d}
	TakeAway(&r, d, now, "stalled: over max_stalled_time")
	if r.Status != StatusQueued || r.Runner != "" || len(r.Recoveries) != 1 {
		t.Fatalf("after TakeAway: %+v", r)
	}
	if got := r.Recoveries[0]; got.Delivery != "7.3" || got.Runner != "r1" || got.Attempt != 3 {
		t.Fatalf("recovery %+v", got)
	}
	GiveUp(&r, 3, now)
	if r.Status != StatusFailed || r.Error.Code != CodeRetriesExhausted || r.CompletedAt == nil {
		t.Fatalf("after GiveUp: %+v", r)
	}
	if !strings.Contains(r.Error.Message, "3 deliveries") || !strings.Contains(r.Error.Message, "max_stalled_time") {
		t.Fatalf("reason %q", r.Error.Message)
	}
}
