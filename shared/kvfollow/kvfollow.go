// Package kvfollow keeps a KV bucket followed for as long as a service
// runs, for the views built by watching one (the supervisor's index of
// jobs, ingest's quota tally): one watch after another, each checked on a
// ticker, so a watch that ends on its own (its consumer lost with a NATS
// node, the connection closed for good) or goes silently blind is made
// again, after a pause that grows while watches fail and starts over
// after one that caught up. What a view does with the entries, how it
// watches, and how it tells a blind watch, are its Hooks.
package kvfollow

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"cyberimage/shared/backoff"
	"cyberimage/shared/lifecycle"
)

// Hooks are what a view does with its bucket.
type Hooks struct {
	// Watch makes a watch: the first one (again false), made by Start,
	// and each after one ended (again true).
	Watch func(ctx context.Context, again bool) (jetstream.KeyWatcher, error)
	// Apply takes an entry the watch delivered.
	Apply func(jetstream.KeyValueEntry)
	// CaughtUp is told each time a watch has delivered everything there
	// was at its start.
	CaughtUp func()
	// Progress runs every check interval while a watch catches up, to say
	// how far it is.
	Progress func()
	// Stale runs every check interval once a watch has caught up, to say
	// whether it is stale and must be made again. stuck is the watch's
	// own, for Stuck.Stale.
	Stale func(ctx context.Context, stuck *Stuck) bool
}

// Follower runs the watches of one bucket between Start and Stop; its
// zero value is ready to start, once.
type Follower struct {
	stop      context.CancelFunc
	done      chan struct{}
	rewatches atomic.Int64
}

// errWatchEnded: a watch of the bucket ended, or went stale.
var errWatchEnded = errors.New("the watch ended")

// pause is the wait before a watch is made again.
var pause = lifecycle.Policy{Backoff: backoff.Policy{Base: 200 * time.Millisecond, Max: 5 * time.Second, Jitter: 0.2}}

// Start makes the first watch (an error, such as a refusal of the rights
// to watch, fails the start) and follows the bucket, checking every
// checkEvery, until Stop; log is told of each watch made again.
func (f *Follower) Start(checkEvery time.Duration, log *zap.Logger, h Hooks) error {
	// The watches live until Stop, not as long as the start's context: a
	// watch's subscription ends with the context it was made with.
	ctx, cancel := context.WithCancel(context.Background())
	watcher, err := h.Watch(ctx, false)
	if err != nil {
		cancel()
		return err
	}
	f.stop, f.done = cancel, make(chan struct{})
	go func() {
		defer close(f.done)
		_ = lifecycle.Retry(ctx, pause, func(ctx context.Context) error {
			if watcher == nil {
				var err error
				if watcher, err = h.Watch(ctx, true); err != nil {
					log.Warn("watching the bucket again failed; retrying", zap.Error(err))
					return err
				}
				f.rewatches.Add(1)
				log.Warn("watching the bucket again: the watch had ended", zap.Int64("rewatches", f.rewatches.Load()))
			}
			caughtUp := follow(ctx, watcher, checkEvery, h)
			_ = watcher.Stop()
			watcher = nil
			if caughtUp {
				return lifecycle.Progressed(errWatchEnded)
			}
			return errWatchEnded
		})
	}()
	return nil
}

// Stop ends the watch and waits for it, within ctx (its error is ctx's).
// Stop before Start is fine.
func (f *Follower) Stop(ctx context.Context) error {
	if f.stop == nil {
		return nil
	}
	f.stop()
	select {
	case <-f.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Rewatches counts the watches made again since Start.
func (f *Follower) Rewatches() int64 { return f.rewatches.Load() }

// follow hands one watch's entries to the hooks until it ends or goes
// stale; it reports whether the watch delivered everything there was at
// its start.
func follow(ctx context.Context, watcher jetstream.KeyWatcher, checkEvery time.Duration, h Hooks) (caughtUp bool) {
	check := time.NewTicker(checkEvery)
	defer check.Stop()
	var stuck Stuck
	for {
		select {
		case <-ctx.Done():
			return caughtUp
		case <-check.C:
			if !caughtUp {
				h.Progress()
			} else if h.Stale(ctx, &stuck) {
				return caughtUp
			}
		case e, ok := <-watcher.Updates():
			switch {
			case !ok:
				return caughtUp
			case e == nil: // the marker: every entry there at the start was delivered
				caughtUp = true
				h.CaughtUp()
			default:
				h.Apply(e)
			}
		}
	}
}

// Stuck tells a watch that went blind from one that is merely behind.
type Stuck struct{ at uint64 }

// Stale reports whether the bucket, now at revision bucket, was ahead at
// the previous check too while the view's applied revision has not moved
// since: a watch silently blind is worse than one that ends.
func (s *Stuck) Stale(bucket, applied uint64) bool {
	switch {
	case bucket == applied:
		s.at = 0
		return false
	case s.at != 0 && s.at == applied:
		return true
	default:
		s.at = applied
		return false
	}
}
