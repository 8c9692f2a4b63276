package tally

import (
	"fmt"
	"time"

	"cyberimage/shared/job"
	"cyberimage/shared/quota"
)

// Refusal is why a client may not have one more job now, and when to try
// again.
type Refusal struct {
	Code   job.Code // job.CodeRateLimited or job.CodeQuotaExceeded
	Client string
	Limit  int
	// RetryAfter: for rate_limited, until the oldest job counted leaves
	// the Window (exact, unless the client's other jobs come meanwhile);
	// for quota_exceeded, QueuedRetryAfter.
	RetryAfter time.Duration
}

// Error is the message the requester reads.
func (r *Refusal) Error() string {
	if r.Code == job.CodeRateLimited {
		return fmt.Sprintf("client %s had %d jobs accepted in the last minute, its limit; retry in %d s", r.Client, r.Limit, r.RetryAfterS())
	}
	return fmt.Sprintf("client %s has %d jobs queued, its limit; retry in %d s", r.Client, r.Limit, r.RetryAfterS())
}

// RetryAfterS is RetryAfter in whole seconds, rounded up, at least 1.
func (r *Refusal) RetryAfterS() int {
	return max(1, int((r.RetryAfter+time.Second-1)/time.Second))
}

// refusal checks client's limits l against its usage u (nil: none). The
// rate is checked first: its hint is exact, and a client refused for a
// full queue would meet the rate next anyway.
func refusal(client string, l quota.Limits, u *usage, now time.Time) *Refusal {
	if u == nil {
		return nil
	}
	if l.PerMinute > 0 && len(u.recent) >= l.PerMinute {
		oldest := now
		if at, ok := u.oldest(); ok && at.Before(oldest) {
			oldest = at
		}
		// Clocks of the NATS server (created_at) and this host may
		// disagree: the hint stays within (0, Window].
		wait := min(max(oldest.Add(Window).Sub(now), time.Second), Window)
		return &Refusal{Code: job.CodeRateLimited, Client: client, Limit: l.PerMinute, RetryAfter: wait}
	}
	if l.MaxQueued > 0 && u.queued >= l.MaxQueued {
		return &Refusal{Code: job.CodeQuotaExceeded, Client: client, Limit: l.MaxQueued, RetryAfter: QueuedRetryAfter}
	}
	return nil
}
