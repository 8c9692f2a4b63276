package job

import (
	"fmt"
	"time"
)

// The named transitions below are where a status change and the fields it
// touches are decided; every service calls them inside its compare-and-set
// (jobstore.Update), so a rule changes in one place. Each takes the record
// as read and the facts of the moment, checks its row of the table
// (moves.go) and any fence of its own first, and refuses with that row's
// error, leaving the record untouched, when it may not act.

// OwnedBy is the fence: the record is processing under this very delivery.
// Only the owner may complete or fail the job, or ack its message.
func (r *Record) OwnedBy(d *Delivery) bool {
	return r.Status == StatusProcessing && r.Delivery.Same(d)
}

// NewQueued is the record of a request ingest accepted, as it creates it
// (and as a runner reads it back from the work message).
func NewQueued(id string, spec Spec, createdAt time.Time, traceparent string) Record {
	return Record{JobID: id, Status: StatusQueued, Spec: spec, CreatedAt: createdAt, Traceparent: traceparent}
}

// NewRejected is the record of a request ingest rejected, kept under the
// job id of its request_id so the client can look the rejection up.
func NewRejected(id, requestID string, why Failure, now time.Time) Record {
	return Record{JobID: id, Status: StatusRejected, Spec: Spec{RequestID: requestID}, Error: &why, CreatedAt: now.UTC()}
}

// Claim starts a run: the record moves to processing under delivery d,
// which from now on alone may finish it. The queue wait ends here; clocks
// of different hosts may disagree, so it is never negative.
func Claim(r *Record, d Delivery, now time.Time) error {
	if err := claimMove.check(r); err != nil {
		return err
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
	if err := completeMove.check(r); err != nil || !r.OwnedBy(d) {
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
	if err := failMove.check(r); err != nil || !r.OwnedBy(d) {
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
	if err := cancelMove.check(r); err != nil {
		return err
	}
	r.Status = StatusCancelled
	r.CompletedAt = UTC(now)
	r.Error = &Failure{Code: CodeCancelled, Message: reason}
	return nil
}

// Expire ends a queued job that was not started by its deadline: it is
// cancelled with deadline_exceeded, never run. The supervisor's leader
// sweeps queued jobs past their deadline, and a runner tries it before
// every claim, so a job is never started late even when the sweep has not
// come yet. The deadline is about starting: a job with none, with one
// still ahead at now, or that started before (a run taken back from a
// runner: it began in time and goes on) is refused with ErrNotDue.
func Expire(r *Record, now time.Time) error {
	if err := expireMove.check(r); err != nil {
		return err
	}
	if !r.Spec.PastDeadline(now) || r.StartedAt != nil {
		return ErrNotDue
	}
	r.Status = StatusCancelled
	r.CompletedAt = UTC(now)
	r.Runner = ""
	r.Error = &Failure{Code: CodeDeadlineExceeded, Message: "not started by its deadline " + r.Spec.Deadline.UTC().Format(time.RFC3339Nano)}
	return nil
}

// Requeue gives a failed job a fresh start on an operator's word: a new
// attempt count, no runner, delivery, images or error. Completed jobs are
// never run again.
func Requeue(r *Record) error {
	if err := requeueMove.check(r); err != nil {
		return err
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
// took the job from delivery d (stalled or silent), and records why. Only
// the delivery the record still names can be taken away (ErrNotOwner
// otherwise: the job moved on since it was judged). The runner is
// cleared: nobody holds the job until the next claim.
func TakeAway(r *Record, d *Delivery, now time.Time, reason string) error {
	if err := takeAwayMove.check(r); err != nil || !r.Delivery.Same(d) {
		return ErrNotOwner
	}
	takeFrom(r, d, now, reason)
	return nil
}

// RequeueLost puts back a job whose work message is gone (the reconciler's
// finding): a processing one is taken from the delivery its record names,
// recorded as "lost: <reason>"; a queued one just loses its runner. Either
// way it is queued, for the work the caller publishes again.
func RequeueLost(r *Record, now time.Time, reason string) error {
	if err := requeueLostMove.check(r); err != nil {
		return err
	}
	if r.Status == StatusProcessing {
		takeFrom(r, r.Delivery, now, "lost: "+reason)
		return nil
	}
	r.Runner = ""
	return nil
}

// takeFrom records the supervisor's intervention on delivery d (nil: the
// record's runner is named) and queues the job without a runner.
func takeFrom(r *Record, d *Delivery, now time.Time, reason string) {
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
// A job that ended already is left as it ended (ErrEnded).
func GiveUp(r *Record, deliveries int, now time.Time) error {
	if err := giveUpMove.check(r); err != nil {
		return err
	}
	r.Status = StatusFailed
	r.Error = &Failure{Code: CodeRetriesExhausted, Message: ExhaustedReason(deliveries, r.Recoveries)}
	r.CompletedAt = UTC(now)
	r.Runner = ""
	return nil
}

// Readmit replaces a rejected request's record with the job of a valid
// request sent again under the same request_id: next, the record ingest
// would have created for it (NewQueued, with the sender's Client), taken
// whole so no field of the new request is lost. Any other record under the
// id is a real job and stays as it is (ErrNotRejected).
func Readmit(r *Record, next Record) error {
	if err := readmitMove.check(r); err != nil {
		return err
	}
	next.JobID = r.JobID
	*r = next
	return nil
}

// RejectAgain replaces an earlier rejection under a request_id with the
// latest one, next (NewRejected, with the sender's Client), so the client
// looks up why its last attempt failed. A real job under the id stays
// untouched (ErrNotRejected).
func RejectAgain(r *Record, next Record) error {
	if err := rejectAgainMove.check(r); err != nil {
		return err
	}
	next.JobID = r.JobID
	*r = next
	return nil
}

// ExhaustedReason says why a job that ran out of deliveries failed.
func ExhaustedReason(deliveries int, recoveries []Recovery) string {
	reason := fmt.Sprintf("gave up after %d deliveries", deliveries)
	if n := len(recoveries); n > 0 {
		reason += "; last: " + recoveries[n-1].Reason
	}
	return reason
}
