package job

import (
	"fmt"
	"time"
)

// The named transitions below are where a status change and the fields it
// touches are decided. Each takes the record as read and the facts of the
// moment; the caller writes the result with a compare-and-set.

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
