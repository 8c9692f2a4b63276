// Package index keeps the supervisor's view of the job records by
// following the KV bucket's stream: the jobs in flight, counts by status
// and model, the rolling 24-hour and one-hour figures, and a window of the
// newest jobs for lists. Its memory and start-up cost depend on the jobs in
// flight and the window's size, not on how many jobs ever ran: ended jobs
// leave the view and live on as counts, and a snapshot of the view (saved
// by the leader, see Saver) lets a restart follow on from where it was
// instead of replaying the bucket.
package index

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"cyberimage/shared/job"
	"cyberimage/shared/kvfollow"
)

// Index is the followed view.
type Index struct {
	kv    jetstream.KeyValue
	state jetstream.KeyValue // where snapshots are kept; nil: none
	log   *zap.Logger

	mu sync.RWMutex
	st *state
	// feeds are told of every record that ends (see FollowEnded).
	feeds []*Feed
	// born is when the bucket's stream was made: a stream made again
	// (deleted and provisioned anew) invalidates the view.
	born time.Time

	ready    chan struct{}
	follower kvfollow.Follower

	// Settings tests change.
	checkEvery time.Duration
	saveEvery  time.Duration
	windowSize int
	// saved is the revision of the last snapshot this process saved or
	// loaded; saving lets one save run at a time.
	saved  atomic.Uint64
	saving sync.Mutex
}

// Option configures an Index.
type Option func(*Index)

// WithSnapshots keeps the view's snapshots in the bucket given.
func WithSnapshots(state jetstream.KeyValue) Option { return func(x *Index) { x.state = state } }

// WithSaveEvery sets how often the Saver saves the view.
func WithSaveEvery(d time.Duration) Option { return func(x *Index) { x.saveEvery = d } }

// WithWindow sets how many of the newest jobs are kept for lists.
func WithWindow(n int) Option { return func(x *Index) { x.windowSize = max(n, 1) } }

// New makes an index of the bucket; Start fills it.
func New(kv jetstream.KeyValue, logger *zap.Logger, opts ...Option) *Index {
	x := &Index{kv: kv, log: logger.Named("index"), ready: make(chan struct{}),
		checkEvery: 5 * time.Second, saveEvery: 10 * time.Second, windowSize: DefaultWindow}
	for _, o := range opts {
		o(x)
	}
	x.st = newState(x.windowSize)
	return x
}

// Start loads the latest snapshot (if any, and if it is of this bucket)
// and begins following the bucket from the revision after it; Ready closes
// once the view has caught up with the bucket as it was at start. The
// follow is kept until Stop: when a watch ends on its own the next resumes
// where it stopped, and when the bucket's stream was made again the view
// starts over from it.
func (x *Index) Start(ctx context.Context) error {
	info, err := x.bucketInfo(ctx)
	if err != nil {
		return fmt.Errorf("watch job records: %w", err)
	}
	x.resume(ctx, info)
	err = x.follower.Start(x.checkEvery, x.log, kvfollow.Hooks{
		Watch:    x.watch,
		Apply:    func(e jetstream.KeyValueEntry) { x.apply(e, time.Now()) },
		CaughtUp: sync.OnceFunc(func() { close(x.ready) }),
		Progress: x.progress,
		Stale:    x.watchStale,
	})
	if err != nil {
		return fmt.Errorf("watch job records: %w", err)
	}
	return nil
}

// watch follows the bucket's stream from the revision after the view's.
// A watch made after one ended starts the view over first when the
// bucket's stream was made again.
func (x *Index) watch(ctx context.Context, again bool) (jetstream.KeyWatcher, error) {
	if again {
		if info, err := x.bucketInfo(ctx); err == nil && x.remade(info) {
			x.log.Warn("the job record bucket was made again; counting it from the start")
			x.startOver(info)
		}
	}
	x.mu.RLock()
	from := x.st.revision + 1
	x.mu.RUnlock()
	return x.kv.WatchAll(ctx, jetstream.ResumeFromRevision(from), jetstream.IncludeHistory())
}

// resume starts the view from the latest snapshot of this bucket, or from
// nothing (the first start builds it by reading the bucket once).
func (x *Index) resume(ctx context.Context, info *jetstream.StreamInfo) {
	x.born = info.Created
	snap, err := x.load(ctx)
	switch {
	case err != nil:
		x.log.Warn("reading the index snapshot failed; counting the bucket from the start", zap.Error(err))
	case snap == nil:
		x.log.Info("no index snapshot; counting the bucket from the start (once)", zap.Uint64("records_revision", info.State.LastSeq))
	case !snap.BucketCreated.Equal(info.Created) || snap.Revision > info.State.LastSeq:
		x.log.Warn("the index snapshot is of another bucket; counting the bucket from the start")
	default:
		x.mu.Lock()
		x.st = snap.restore(x.windowSize)
		x.mu.Unlock()
		x.saved.Store(snap.Revision)
		x.log.Info("index snapshot loaded", zap.Uint64("revision", snap.Revision), zap.Int("in_flight", len(snap.InFlight)),
			zap.Uint64("records_revision", info.State.LastSeq))
	}
	x.mu.Lock()
	x.st.catchUp = info.State.LastSeq
	x.mu.Unlock()
}

// remade tells whether the bucket's stream is not the one the view follows.
func (x *Index) remade(info *jetstream.StreamInfo) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return !info.Created.Equal(x.born) || info.State.LastSeq < x.st.revision
}

func (x *Index) startOver(info *jetstream.StreamInfo) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.born = info.Created
	x.st = newState(x.windowSize)
	x.st.catchUp = info.State.LastSeq
	x.saved.Store(0)
	for _, f := range x.feeds {
		f.loseFeed() // revisions start again: followers start over too
	}
}

// progress says, while a watch catches up, how far it is (a long
// backlog: a supervisor down for an hour of a busy farm).
func (x *Index) progress() {
	applied, target, _ := x.CatchUp()
	x.log.Info("catching up with the job records", zap.Uint64("applied_revision", applied), zap.Uint64("target_revision", target))
}

// watchStale says, once a watch has caught up, whether it is stale, and
// logs why when it is.
func (x *Index) watchStale(ctx context.Context, stuck *kvfollow.Stuck) bool {
	stale, why := x.stale(ctx, stuck)
	if stale {
		x.log.Warn("job record watch is stale; watching again", zap.String("why", why), zap.Uint64("applied_revision", x.Revision()))
	}
	return stale
}

// stale tells whether the watch can no longer be trusted: the bucket's
// stream was made again since the view began (an ordered consumer resumes
// at a sequence the new stream may not reach for long), or the bucket was
// ahead at the previous check and the view has not moved since. A watch
// silently blind is worse than one that ends.
func (x *Index) stale(ctx context.Context, stuck *kvfollow.Stuck) (bool, string) {
	info, err := x.bucketInfo(ctx)
	if err != nil {
		return false, "" // NATS unreachable: the watch waits as the rest does
	}
	switch {
	case x.remade(info):
		return true, "the bucket's stream was made again"
	case stuck.Stale(info.State.LastSeq, x.Revision()):
		return true, "no update arrived while the bucket moved ahead"
	}
	return false, ""
}

// bucketInfo reads the bucket's stream info, waiting at most one check
// interval.
func (x *Index) bucketInfo(ctx context.Context) (*jetstream.StreamInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, x.checkEvery)
	defer cancel()
	status, err := x.kv.Status(ctx)
	if err != nil {
		return nil, err
	}
	return status.(*jetstream.KeyValueBucketStatus).StreamInfo(), nil
}

func (x *Index) apply(e jetstream.KeyValueEntry, now time.Time) {
	c := newChange(e.Key(), e.Revision(), e.Created(), e.Operation(), e.Value()) // decoded before locking: readers wait less
	x.mu.Lock()
	ended, hasEnded, err := x.st.apply(c, now)
	if e.Revision()%1024 == 0 {
		x.st.tally.prune(now)
		x.st.accepted.prune(now)
	}
	for _, f := range x.feeds {
		f.advance(e.Revision(), ended, hasEnded)
	}
	x.mu.Unlock()
	if err != nil {
		x.log.Warn("undecodable record", zap.String("job_id", e.Key()), zap.Error(err))
	}
}

// Revision is the latest revision of the bucket the view has applied.
func (x *Index) Revision() uint64 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.st.revision
}

// Rewatches counts the watches made again after one ended on its own.
func (x *Index) Rewatches() int64 { return x.follower.Rewatches() }

// CatchUp says how far the view is: the revision applied, the bucket's
// revision at start that it must reach, and whether it has (Ready closed).
func (x *Index) CatchUp() (applied, target uint64, caughtUp bool) {
	x.mu.RLock()
	applied, target = x.st.revision, x.st.catchUp
	x.mu.RUnlock()
	select {
	case <-x.ready:
		return applied, target, true
	default:
		return applied, target, false
	}
}

// Ready is closed once the view has caught up with the bucket as it was at
// start.
func (x *Index) Ready() <-chan struct{} { return x.ready }

// Stop ends the follow and waits for it, within ctx.
func (x *Index) Stop(ctx context.Context) error {
	if err := x.follower.Stop(ctx); err != nil {
		return fmt.Errorf("stop following job records: %w", err)
	}
	return nil
}

// Counts returns counts by status: O(models).
func (x *Index) Counts() Counts {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.st.tally.totals()
}

// ByModel returns the counts of each model ("" for records without one).
func (x *Index) ByModel() map[string]Counts {
	x.mu.RLock()
	defer x.mu.RUnlock()
	out := make(map[string]Counts, len(x.st.tally.Models))
	for m, c := range x.st.tally.Models {
		out[m] = c
	}
	return out
}

// Detailed returns counts, the last 24 hours' counts, the average
// processing time of completed jobs, per-model counts, the jobs ended in
// the last hour and the failure rate of ended jobs: O(models + minutes).
func (x *Index) Detailed(now time.Time) Detailed {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.st.tally.detailed(now)
}

// OldestQueued is when the longest-waiting queued job was requested (zero
// when none is queued).
func (x *Index) OldestQueued() time.Time {
	x.mu.RLock()
	defer x.mu.RUnlock()
	var oldest time.Time
	for _, e := range x.st.inflight {
		if e.Status == job.StatusQueued && (oldest.IsZero() || e.CreatedAt.Before(oldest)) {
			oldest = e.CreatedAt
		}
	}
	return oldest
}

// Processing lists jobs in processing, oldest start first.
func (x *Index) Processing() []Entry { return x.withStatus(job.StatusProcessing) }

// Unfinished lists queued and processing jobs, for reconciliation.
func (x *Index) Unfinished() []Entry {
	return x.withStatus(job.StatusQueued, job.StatusProcessing)
}

func (x *Index) withStatus(statuses ...job.Status) []Entry {
	x.mu.RLock()
	var out []Entry
	for _, e := range x.st.inflight {
		for _, s := range statuses {
			if e.Status == s {
				out = append(out, e)
			}
		}
	}
	x.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].StartedAt, out[j].StartedAt
		if a == nil || b == nil || a.Equal(*b) {
			return out[i].JobID < out[j].JobID
		}
		return a.Before(*b)
	})
	return out
}
