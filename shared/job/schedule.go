package job

import "time"

// Bounds of a request's deadline (README, "Contract v1").
const (
	// MaxExpiresIn is the most seconds expires_in may give.
	MaxExpiresIn = 7 * 24 * 60 * 60
	// MaxDeadlineAhead is how far after the request a deadline may lie: a
	// later one is a mistake rather than a wish, and records of jobs not
	// ended never leave KV.
	MaxDeadlineAhead = MaxExpiresIn * time.Second
)

// PastDeadline reports whether the spec has a deadline and now is not
// before it. The deadline is about starting: a job whose run began before
// it goes on (Expire checks that).
func (s Spec) PastDeadline(now time.Time) bool {
	return !s.Deadline.IsZero() && !now.Before(s.Deadline)
}

// schedule validates when a request may run: its priority class and its
// deadline, given as an RFC 3339 time or as seconds after at (the time the
// request was stored, so a redelivered request gets the same deadline),
// and in either form after at and at most MaxDeadlineAhead after it. The
// deadline is in UTC with no monotonic reading, so specs compare with ==.
func schedule(req Request, at time.Time) (Priority, time.Time, error) {
	if !req.Priority.Valid() {
		return "", time.Time{}, reject(CodePriorityInvalid, "priority", "priority must be high, normal or low, not %q", req.Priority)
	}
	prio := req.Priority.Class()
	var deadline time.Time
	switch {
	case req.Deadline != "" && req.ExpiresIn != nil:
		return "", time.Time{}, reject(CodeDeadlineInvalid, "expires_in", "give deadline or expires_in, not both")
	case req.Deadline != "":
		t, err := time.Parse(time.RFC3339, req.Deadline)
		if err != nil {
			return "", time.Time{}, reject(CodeDeadlineInvalid, "deadline", "deadline must be an RFC 3339 time such as 2026-01-02T15:04:05Z")
		}
		deadline = t
	case req.ExpiresIn != nil:
		if n := *req.ExpiresIn; n < 1 || n > MaxExpiresIn {
			return "", time.Time{}, reject(CodeExpiresInOutOfRange, "expires_in", "expires_in must be between 1 and %d seconds", MaxExpiresIn)
		}
		deadline = at.Add(time.Duration(*req.ExpiresIn) * time.Second)
	default:
		return prio, time.Time{}, nil
	}
	if !deadline.After(at) || deadline.Sub(at) > MaxDeadlineAhead {
		return "", time.Time{}, reject(CodeDeadlineOutOfRange, "deadline", "deadline must be after the request (%s) and at most %s later",
			at.UTC().Format(time.RFC3339), MaxDeadlineAhead)
	}
	return prio, deadline.UTC(), nil
}
