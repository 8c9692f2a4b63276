package bus

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"cyberimage/shared/backoff"
	"cyberimage/shared/lifecycle"
)

// DefaultProvisionTimeout bounds Provision's wait for NATS: a cold
// three-node cluster can place R3 streams within seconds of its last node
// starting, a loaded one within tens.
const DefaultProvisionTimeout = time.Minute

// provisionBackoff spaces Provision's attempts: quick at first, since a
// cluster usually needs only a moment more, then every few seconds.
var provisionBackoff = backoff.Policy{Base: 250 * time.Millisecond, Max: 5 * time.Second, Jitter: 0.2}

// ProvisionParams are what Provision provisions and how long it waits.
type ProvisionParams struct {
	Settings Settings
	// Models each get their runners' consumer.
	Models []string
	// Timeout bounds the whole wait (0: DefaultProvisionTimeout); ctx may
	// end it sooner.
	Timeout time.Duration
	// Backoff spaces the attempts (zero: quick at first, then every 5 s).
	Backoff backoff.Policy
	// Progress hears each attempt that found NATS not ready (nil: quiet):
	// a provision step waiting on a cold cluster should say so, not hang.
	Progress func(ProvisionRetry)
}

// ProvisionRetry is one attempt that found NATS not ready, and the wait
// before the next.
type ProvisionRetry struct {
	Attempt int           // 1 for the first
	Elapsed time.Duration // since Provision began
	Next    time.Duration // until the next attempt
	Err     error         // wraps ErrNotReady
}

// String is the progress line a command prints for the retry.
func (r ProvisionRetry) String() string {
	return fmt.Sprintf("waiting for NATS (attempt %d, %s in): %v; next try in %s",
		r.Attempt, r.Elapsed.Round(100*time.Millisecond), r.Err, r.Next.Round(10*time.Millisecond))
}

// Provision calls Ensure until it succeeds, retrying with backoff while
// NATS is not ready (ErrNotReady): the provision step may start before the
// server is up, or at R3 before every node has joined the JetStream meta
// group, when placement fails with "no suitable peers". Any other error
// ends it at once. It waits at most DefaultProvisionTimeout.
func Provision(ctx context.Context, js jetstream.JetStream, s Settings, models ...string) error {
	return ProvisionWith(ctx, js, ProvisionParams{Settings: s, Models: models})
}

// ProvisionWith is Provision with its wait, backoff and progress given.
func ProvisionWith(ctx context.Context, js jetstream.JetStream, p ProvisionParams) error {
	timeout := cmp.Or(p.Timeout, DefaultProvisionTimeout)
	policy := p.Backoff
	if policy == (backoff.Policy{}) {
		policy = provisionBackoff
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	attempts := 0
	var last error
	retry := lifecycle.Policy{Backoff: policy, OnRetry: func(attempt int, err error, next time.Duration) {
		if p.Progress != nil {
			p.Progress(ProvisionRetry{Attempt: attempt, Elapsed: time.Since(start), Next: next, Err: err})
		}
	}}
	err := lifecycle.Retry(ctx, retry, func(ctx context.Context) error {
		attempts++
		last = ensureConnected(ctx, js, p)
		if last != nil && !errors.Is(last, ErrNotReady) {
			return lifecycle.Permanent(last)
		}
		return last
	})
	if err == nil || !errors.Is(last, ErrNotReady) {
		return err // done, or an error retrying cannot mend
	}
	return giveUp(ctx, start, attempts, last)
}

// giveUp is Provision's error when its wait ends: why it ended (its
// deadline, or the caller's ctx) and what NATS last answered.
func giveUp(ctx context.Context, start time.Time, attempts int, last error) error {
	return fmt.Errorf("gave up after %s and %d attempts (%w): %w",
		time.Since(start).Round(100*time.Millisecond), attempts, context.Cause(ctx), last)
}

// ensureConnected is one attempt of Provision: Ensure, unless the
// connection is down (NATS not started yet, or restarting), when a request
// would only wait out its timeout in the reconnect buffer.
func ensureConnected(ctx context.Context, js jetstream.JetStream, p ProvisionParams) error {
	if nc := js.Conn(); nc != nil && !nc.IsConnected() {
		return fmt.Errorf("%w: not connected (%s)", ErrNotReady, nc.Status())
	}
	return Ensure(ctx, js, p.Settings, p.Models...)
}
