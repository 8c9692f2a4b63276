package tally

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"cyberimage/shared/backoff"
	"cyberimage/shared/lifecycle"
)

// errWatchEnded: a watch of the bucket ended, or went stale.
var errWatchEnded = errors.New("the job record watch ended")

// watch starts a watch of every record's latest revision. Each watch
// counts the bucket anew (sweep drops what it no longer holds), which
// also repairs whatever a watch that went blind missed; watches are made
// again only when one ends, so the rescan is rare.
func (t *Tally) watch(ctx context.Context) (jetstream.KeyWatcher, error) {
	// The bucket's revision before the watch starts is covered once the
	// watch catches up, even when its last messages have since expired
	// and the watch cannot deliver them (see stale).
	from, err := t.bucketRevision(ctx)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	t.st.begin()
	t.seen, t.startRev, t.applied = 0, from, 0
	t.mu.Unlock()
	return t.kv.WatchAll(ctx)
}

// bucketRevision is the bucket's latest revision, waiting at most one
// check interval.
func (t *Tally) bucketRevision(ctx context.Context) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, t.checkEvery)
	defer cancel()
	status, err := t.kv.Status(ctx)
	if err != nil {
		return 0, err
	}
	return status.(*jetstream.KeyValueBucketStatus).StreamInfo().State.LastSeq, nil
}

// keepFollowing follows the bucket until ctx ends, one watch after
// another: when a watch ends on its own (its consumer lost with a NATS
// node, the connection closed for good) or goes stale, the next is made
// after a pause that grows while watches fail and starts over after one
// that caught up. Meanwhile the counts stay as they were.
func (t *Tally) keepFollowing(ctx context.Context, watcher jetstream.KeyWatcher) {
	pause := lifecycle.Policy{Backoff: backoff.Policy{Base: 200 * time.Millisecond, Max: 5 * time.Second, Jitter: 0.2}}
	_ = lifecycle.Retry(ctx, pause, func(ctx context.Context) error {
		if watcher == nil {
			var err error
			if watcher, err = t.watch(ctx); err != nil {
				t.log.Warn("watching job records again failed; retrying", zap.Error(err))
				return err
			}
			t.rewatches.Add(1)
			t.log.Warn("watching job records again: the watch had ended", zap.Int64("rewatches", t.rewatches.Load()))
		}
		caughtUp := t.follow(ctx, watcher)
		_ = watcher.Stop()
		watcher = nil
		if caughtUp {
			return lifecycle.Progressed(errWatchEnded)
		}
		return errWatchEnded
	})
}

// follow counts one watch's entries until it ends or goes stale; it
// reports whether the watch delivered everything there was at its start.
func (t *Tally) follow(ctx context.Context, watcher jetstream.KeyWatcher) (caughtUp bool) {
	check := time.NewTicker(t.checkEvery)
	defer check.Stop()
	var stuckAt uint64 // the revision applied when the bucket was last found ahead
	for {
		select {
		case <-ctx.Done():
			return caughtUp
		case <-check.C:
			if !caughtUp {
				t.mu.Lock()
				seen := t.seen
				t.mu.Unlock()
				t.log.Info("counting the clients' jobs for quotas; requests wait until done", zap.Int64("records", seen))
				continue
			}
			t.mu.Lock()
			t.st.prune(t.now())
			t.mu.Unlock()
			if t.stale(ctx, &stuckAt) {
				t.log.Warn("job record watch is stale; watching again")
				return caughtUp
			}
		case e, ok := <-watcher.Updates():
			if !ok {
				return caughtUp
			}
			if e != nil {
				t.apply(e)
				continue
			}
			caughtUp = true // the nil marker: every record at the start was seen
			t.caughtUpNow()
		}
	}
}

// caughtUpNow ends a watch's catch-up: what it did not see is gone, and
// the first one opens ingest to requests.
func (t *Tally) caughtUpNow() {
	t.mu.Lock()
	t.st.sweep()
	t.applied = max(t.applied, t.startRev)
	seen, clients := t.seen, len(t.st.clients)
	t.mu.Unlock()
	select {
	case <-t.caughtUp:
	default:
		t.log.Info("counted the clients' jobs for quotas", zap.Int64("records", seen), zap.Int("clients_counted", clients))
	}
	t.markReady()
}

// stale tells whether the watch can no longer be trusted: the bucket was
// ahead of it at the previous check and it has delivered nothing since (a
// watch silently blind would let every client past its quota). NATS out
// of reach is not staleness: the watch waits as the rest of ingest does.
func (t *Tally) stale(ctx context.Context, stuckAt *uint64) bool {
	last, err := t.bucketRevision(ctx)
	if err != nil {
		return false
	}
	t.mu.Lock()
	applied := t.applied
	t.mu.Unlock()
	switch {
	case last == applied:
		*stuckAt = 0
		return false
	case *stuckAt != 0 && *stuckAt == applied:
		return true
	default:
		*stuckAt = applied
		return false
	}
}
