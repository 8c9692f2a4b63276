package job

import (
	"errors"
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

func TestClaimCompleteAndTheFence(t *testing.T) {
	created := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	r := Record{Status: StatusQueued, CreatedAt: created}
	d1 := Delivery{StreamSeq: 3, Delivered: 1, Runner: "r1"}
	if err := Claim(&r, d1, created.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	if r.Status != StatusProcessing || r.Attempts != 1 || r.Runner != "r1" || r.Stages.QueueWaitMS != 2000 {
		t.Fatalf("after Claim: %+v", r)
	}
	// A runner whose clock is behind ingest's: the wait is never negative.
	r2 := Record{Status: StatusQueued, CreatedAt: created}
	_ = Claim(&r2, d1, created.Add(-time.Minute))
	if r2.Stages.QueueWaitMS != 0 {
		t.Fatalf("negative queue wait %v", r2.Stages.QueueWaitMS)
	}

	d2 := Delivery{StreamSeq: 3, Delivered: 2, Runner: "r2"}
	if err := Claim(&r, d2, created.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := Complete(&r, &d1, []string{"x"}, Stages{}, created); !errors.Is(err, ErrNotOwner) {
		t.Fatalf("a stale delivery completed the job: %v", err)
	}
	if err := Fail(&r, &d1, CodeGenerationFailed, "x", Stages{}, created); !errors.Is(err, ErrNotOwner) {
		t.Fatalf("a stale delivery failed the job: %v", err)
	}
	if err := Complete(&r, &d2, []string{"images/a/0.png"}, Stages{InferenceMS: 5}, created.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if r.Status != StatusCompleted || len(r.Images) != 1 || r.CompletedAt == nil {
		t.Fatalf("after Complete: %+v", r)
	}
	if err := Claim(&r, d1, created); !errors.Is(err, ErrEnded) {
		t.Fatalf("a completed job was claimed: %v", err)
	}
	if err := Cancel(&r, "x", created); !errors.Is(err, ErrNotCancellable) {
		t.Fatalf("a completed job was cancelled: %v", err)
	}
	if err := Requeue(&r); !errors.Is(err, ErrNotFailed) {
		t.Fatalf("a completed job was re-queued: %v", err)
	}
}

func TestCancelAndRequeue(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	r := Record{Status: StatusQueued}
	if err := Cancel(&r, "cancelled by an operator", now); err != nil || r.Status != StatusCancelled || r.Error.Code != CodeCancelled {
		t.Fatalf("Cancel: %v %+v", err, r)
	}
	f := Record{Status: StatusFailed, Attempts: 4, Runner: "r", Images: []string{"a"}, Error: &Failure{Code: CodeRetriesExhausted},
		Delivery: &Delivery{StreamSeq: 1}, CompletedAt: UTC(now)}
	if err := Requeue(&f); err != nil {
		t.Fatal(err)
	}
	if f.Status != StatusQueued || f.Attempts != 0 || f.Requeues != 1 || f.Error != nil || f.Delivery != nil || f.Images != nil || f.CompletedAt != nil || f.Runner != "" {
		t.Fatalf("after Requeue: %+v", f)
	}
}
