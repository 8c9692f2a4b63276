package lifecycle

import (
	"context"
	"errors"
	"time"

	"cyberimage/shared/backoff"
)

// Policy is how Retry waits between tries: the backoff's delay before
// each retry (backoff.Fixed for a fixed delay), an optional bound on each
// try, and who hears about a failed try.
type Policy struct {
	Backoff backoff.Policy
	// TryTimeout bounds each try, so a request sent to a server that never
	// answers is given up and tried again (0: only ctx bounds it).
	TryTimeout time.Duration
	// OnRetry, when set, hears each failed try: its number (1 for the
	// first, and for one that made progress), its error and the wait
	// before the next. It is where the caller logs, once per try or only
	// on the first.
	OnRetry func(attempt int, err error, wait time.Duration)
}

// marked is an error Retry treats apart; kind says how, and gives each
// treatment its own type, so that errors.As finds either however the two
// are wrapped.
type marked[kind any] struct{ err error }

func (m marked[kind]) Error() string { return m.err.Error() }
func (m marked[kind]) Unwrap() error { return m.err }

// mark wraps err as kind; nil stays nil.
func mark[kind any](err error) error {
	if err == nil {
		return nil
	}
	return marked[kind]{err}
}

type (
	permanentKind  struct{}
	progressedKind struct{}
	// permanent marks an error that retrying cannot mend.
	permanent = marked[permanentKind]
	// progressed marks a failed try that got somewhere first.
	progressed = marked[progressedKind]
)

// Permanent marks err as one Retry must not retry: Retry returns err
// itself (unwrapped) at once. Permanent(nil) is nil.
func Permanent(err error) error { return mark[permanentKind](err) }

// Progressed marks err as the end of a try that made progress before it
// failed (a watch that caught up, then ended): Retry starts its count
// over, as if this were the first failed try, so a part that keeps working
// for hours between failures is not made to wait the longest delay.
// Progressed(nil) is nil.
func Progressed(err error) error { return mark[progressedKind](err) }

// Retry calls try until it succeeds, returns a Permanent error, or ctx
// ends, waiting the policy's delay between tries; it is the one retry loop
// of the pipeline. It returns nil, the permanent error, or ctx's error
// when ctx ended first. A part that runs until it fails and is then
// started again (a watch, a subscription) is a try that never succeeds,
// ending with a Progressed error when it did its work for a while.
func Retry(ctx context.Context, p Policy, try func(ctx context.Context) error) error {
	for attempt := 1; ; attempt++ {
		err := p.try(ctx, try)
		if err == nil {
			return nil
		}
		var perm permanent
		if errors.As(err, &perm) {
			return perm.err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.As(err, new(progressed)) {
			attempt = 1
		}
		wait := p.Backoff.Delay(attempt)
		if p.OnRetry != nil {
			p.OnRetry(attempt, err, wait)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

func (p Policy) try(ctx context.Context, try func(ctx context.Context) error) error {
	if p.TryTimeout <= 0 {
		return try(ctx)
	}
	ctx, cancel := context.WithTimeout(ctx, p.TryTimeout)
	defer cancel()
	return try(ctx)
}
