package job

import (
	"errors"
	"fmt"
	"time"
)

// The named transitions below are where a status change and the fields it
// touches are decided; every service calls them inside its compare-and-set
// (jobstore.Update), so a rule changes in one place. Each takes the record
// as read and the facts of the moment, and refuses with one of the errors
// below when the record is not in a state the transition may leave.

var (
	// ErrEnded: the job is terminal; nothing may run or change it.
	ErrEnded = errors.New("job already ended")
	// ErrNotOwner: the record no longer names the delivery acting on it;
	// another attempt owns the job (the fence).
	ErrNotOwner = errors.New("delivery is no longer the current attempt")
	// ErrNotCancellable: only queued or processing jobs can be cancelled.
	ErrNotCancellable = errors.New("job is not queued or processing")
	// ErrNotFailed: only failed jobs can be re-queued.
	ErrNotFailed = errors.New("job is not failed")
)

// OwnedBy is the fence: the record is processing under this very delivery.
// Only the owner may complete or fail the job, or ack its message.
func (r *Record) OwnedBy(d *Delivery) bool {
	return r.Status == StatusProcessing && r.Delivery.Same(d)
}

// Claim starts a run: the record moves to processing under delivery d,
// which from now on alone may finish it. The queue wait ends here; clocks
// of different hosts may disagree, so it is never negative.
func Claim(r *Record, d Delivery, now time.Time) error {
	if r.Status.Terminal() {
		return ErrEnded
	}
	r.Status = StatusProcessing
	r.Attempts++
	r.Runner = d.Runner
	r.Error = nil
	r.Delivery = &d
	if r.StartedAt == nil {
		r.StartedAt = UTC(now)
	}
	r.Stages = Stages{QueueWaitMS: Millis(max(0, now.Sub(r.CreatedAt)))}
	return nil
}

// Complete records the owner's result.
func Complete(r *Record, d *Delivery, images []string, stages Stages, now time.Time) error {
	if !r.OwnedBy(d) {
		return ErrNotOwner
	}
	r.Status = StatusCompleted
	r.Images = images
	r.CompletedAt = UTC(now)
	r.Stages = stages
	return nil
}

// Fail records the owner's failure with its reason.
func Fail(r *Record, d *Delivery, code Code, reason string, stages Stages, now time.Time) error {
	if !r.OwnedBy(d) {
		return ErrNotOwner
	}
	r.Status = StatusFailed
	r.Error = &Failure{Code: code, Message: reason}
	r.CompletedAt = UTC(now)
	r.Stages = stages
	return nil
}

// Cancel ends a queued or processing job on an operator's word.
func Cancel(r *Record, reason string, now time.Time) error {
	if r.Status != StatusQueued && r.Status != StatusProcessing {
		return ErrNotCancellable
	}
	r.Status = StatusCancelled
	r.CompletedAt = UTC(now)
	r.Error = &Failure{Code: CodeCancelled, Message: reason}
	return nil
}

// Requeue gives a failed job a fresh start on an operator's word: a new
// attempt count, no runner, delivery, images or error. Completed jobs are
// never run again.
func Requeue(r *Record) error {
	if r.Status != StatusFailed {
		return ErrNotFailed
	}
	r.Status = StatusQueued
	r.Attempts = 0
	r.Requeues++
	r.Error = nil
	r.Runner = ""
	r.Delivery = nil
	r.Images = nil
	r.CompletedAt = nil
	return nil
}

// TakeAway moves a processing record back to queued because the supervisor
// took the job from its delivery (stalled, silent, or lost), and records
// why. The runner is cleared: nobody holds the job until the next claim.
func TakeAway(r *Record, d *Delivery, now time.Time, reason string) {
	runner := r.Runner
	if d != nil {
		runner = d.Runner
	}
	r.Recoveries = append(r.Recoveries, Recovery{At: now.UTC(), Attempt: r.Attempts,
		Runner: runner, Delivery: d.Token(), Reason: reason})
	r.Status = StatusQueued
	r.Runner = ""
}

// GiveUp fails a job that ran out of deliveries, with the last recovery's
// reason when there is one, so the record says what went wrong every time.
func GiveUp(r *Record, deliveries int, now time.Time) {
	reason := ExhaustedReason(deliveries, r.Recoveries)
	r.Status = StatusFailed
	r.Error = &Failure{Code: CodeRetriesExhausted, Message: reason}
	r.CompletedAt = UTC(now)
	r.Runner = ""
}

// ExhaustedReason says why a job that ran out of deliveries failed.
func ExhaustedReason(deliveries int, recoveries []Recovery) string {
	reason := fmt.Sprintf("gave up after %d deliveries", deliveries)
	if n := len(recoveries); n > 0 {
		reason += "; last: " + recoveries[n-1].Reason
	}
	return reason
}
