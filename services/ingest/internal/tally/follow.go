package tally

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"cyberimage/shared/kvfollow"
)

// Start makes the first watch (a refusal of the rights to watch fails
// the start) and follows the bucket until Stop: when a watch ends on its
// own or goes stale, the next is made (kvfollow), and meanwhile the counts
// stay as they were.
func (t *Tally) Start(context.Context) error {
	err := t.follower.Start(t.checkEvery, t.log, kvfollow.Hooks{Watch: t.watch, Apply: t.apply, CaughtUp: t.caughtUpNow, Progress: t.progress, Stale: t.watchStale})
	if err != nil {
		return fmt.Errorf("watch job records for quotas: %w", err)
	}
	return nil
}

// Stop ends the watch and waits for it, within ctx. Stop before Start is
// fine.
func (t *Tally) Stop(ctx context.Context) error {
	if err := t.follower.Stop(ctx); err != nil {
		return fmt.Errorf("stop counting quotas: %w", err)
	}
	return nil
}

// watch starts a watch of every record's latest revision. Each watch
// counts the bucket anew (sweep drops what it no longer holds), which
// also repairs whatever a watch that went blind missed; watches are made
// again only when one ends, so the rescan is rare.
func (t *Tally) watch(ctx context.Context, _ bool) (jetstream.KeyWatcher, error) {
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

// progress says, while a watch catches up, how far it is.
func (t *Tally) progress() {
	t.mu.Lock()
	seen := t.seen
	t.mu.Unlock()
	t.log.Info("counting the clients' jobs for quotas; requests wait until done", zap.Int64("records", seen))
}

// watchStale, once a watch has caught up, lets go of what no longer
// counts and tells whether the watch is stale.
func (t *Tally) watchStale(ctx context.Context, stuck *kvfollow.Stuck) bool {
	t.mu.Lock()
	t.st.prune(t.now())
	t.mu.Unlock()
	if t.stale(ctx, stuck) {
		t.log.Warn("job record watch is stale; watching again")
		return true
	}
	return false
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
func (t *Tally) stale(ctx context.Context, stuck *kvfollow.Stuck) bool {
	last, err := t.bucketRevision(ctx)
	if err != nil {
		return false
	}
	t.mu.Lock()
	applied := t.applied
	t.mu.Unlock()
	return stuck.Stale(last, applied)
}
