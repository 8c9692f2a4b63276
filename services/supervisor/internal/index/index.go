// Package index keeps an in-memory view of every job record by watching the
// KV bucket, so counts and lists are answered without scanning the bucket
// on each request and always agree with KV (they are derived from it).
package index

import (
	"context"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"cyberimage/shared/backoff"
	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
)

// Entry is what the index keeps of a record.
type Entry struct {
	JobID  string
	Status job.Status
	Model  string
	// Prompt is kept for the job list's text search.
	Prompt      string
	Runner      string
	Attempts    int
	CreatedAt   time.Time
	StartedAt   *time.Time
	CompletedAt *time.Time
	UpdatedAt   time.Time
	Delivery    *job.Delivery
	// ChangedAt is when the NATS server stored the record's latest
	// revision, and RunStartedAt when it stored the claim that started
	// the current delivery's run (zero unless processing). The watchdog
	// and the reconciler judge by these server times, never by the
	// timestamps runners write from their own clocks.
	ChangedAt    time.Time
	RunStartedAt time.Time
}

// Index is the watched view.
type Index struct {
	kv  jetstream.KeyValue
	log *zap.Logger

	mu      sync.RWMutex
	entries map[string]Entry
	ready   chan struct{}
	stop    context.CancelFunc
	done    chan struct{}

	rewatches atomic.Int64
	// checkEvery is how often a watch is checked against the bucket.
	checkEvery time.Duration
}

// New makes an index of the bucket; Start fills it.
func New(kv jetstream.KeyValue, logger *zap.Logger) *Index {
	return &Index{kv: kv, log: logger.Named("index"), entries: map[string]Entry{}, ready: make(chan struct{}), done: make(chan struct{}),
		checkEvery: 5 * time.Second}
}

// Start begins watching; Ready closes once existing records are loaded.
// The watch is kept: when it ends on its own (its consumer lost with a NATS
// node, the connection closed for good), it is made again after a pause,
// and the view is rebuilt from the bucket as it is then.
func (x *Index) Start(ctx context.Context) error {
	wctx, cancel := context.WithCancel(context.Background())
	watcher, err := x.kv.WatchAll(wctx)
	if err != nil {
		cancel()
		return err
	}
	x.stop = cancel
	go func() {
		defer close(x.done)
		readyOnce := sync.OnceFunc(func() { close(x.ready) })
		pause := backoff.Policy{Base: 200 * time.Millisecond, Max: 5 * time.Second, Jitter: 0.2}
		for attempt := 0; ; attempt++ {
			if watcher != nil {
				if x.follow(wctx, watcher, readyOnce) {
					attempt = 0
				}
				_ = watcher.Stop()
				watcher = nil
			}
			if wctx.Err() != nil {
				return
			}
			select {
			case <-wctx.Done():
				return
			case <-time.After(pause.Delay(attempt)):
			}
			if watcher, err = x.kv.WatchAll(wctx); err != nil {
				x.log.Warn("watching job records again failed; retrying", zap.Error(err))
				continue
			}
			x.rewatches.Add(1)
			x.log.Warn("watching job records again: the watch had ended", zap.Int64("rewatches", x.rewatches.Load()))
		}
	}()
	return nil
}

// follow applies one watch's updates until it ends or falls behind; it
// reports whether the watch delivered its initial values. Keys absent from
// those values were deleted while no watch ran, and leave the view.
func (x *Index) follow(ctx context.Context, watcher jetstream.KeyWatcher, ready func()) (caughtUp bool) {
	seen := map[string]bool{}
	var lastRev uint64 // of the latest update applied
	check := time.NewTicker(x.checkEvery)
	defer check.Stop()
	var behind uint64         // lastRev when the bucket was last found ahead of it
	born := x.bucketBorn(ctx) // the stream this watch reads, known by its creation time
	for {
		select {
		case <-ctx.Done():
			return caughtUp
		case <-check.C:
			if !caughtUp {
				continue
			}
			if stale, why := x.stale(ctx, lastRev, &behind, &born); stale {
				x.log.Warn("job record watch is stale; watching again", zap.String("why", why), zap.Uint64("applied_revision", lastRev))
				return caughtUp
			}
		case e, ok := <-watcher.Updates():
			if !ok {
				return caughtUp
			}
			if e == nil { // end of the initial values
				if !caughtUp {
					x.forgetAllBut(seen)
					seen, caughtUp = nil, true
					ready()
				}
				continue
			}
			if !caughtUp {
				seen[e.Key()] = true
			}
			lastRev = max(lastRev, e.Revision())
			x.apply(e)
		}
	}
}

// stale tells whether a watch that applied up to lastRev can no longer be
// trusted: the bucket's stream was made again since the watch began (an
// ordered consumer resumes at a sequence the new stream may not reach for
// long), or the bucket was ahead at the previous check and the watch has
// not moved since. A watch silently blind is worse than one that ends.
func (x *Index) stale(ctx context.Context, lastRev uint64, behind *uint64, born *time.Time) (bool, string) {
	info, err := x.bucketInfo(ctx)
	if err != nil {
		return false, "" // NATS unreachable: the watch waits as the rest does
	}
	if born.IsZero() {
		*born = info.Created
	}
	bucketRev := info.State.LastSeq
	switch {
	case !info.Created.Equal(*born) || bucketRev < lastRev:
		return true, "the bucket's stream was made again"
	case bucketRev == lastRev:
		*behind = 0
		return false, ""
	case *behind != 0 && *behind == lastRev:
		return true, "no update arrived while the bucket moved ahead"
	default:
		*behind = lastRev
		return false, ""
	}
}

// bucketBorn is when the bucket's stream was made, or zero when NATS does
// not answer (the first check then takes it).
func (x *Index) bucketBorn(ctx context.Context) time.Time {
	info, err := x.bucketInfo(ctx)
	if err != nil {
		return time.Time{}
	}
	return info.Created
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

func (x *Index) forgetAllBut(keep map[string]bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for key := range x.entries {
		if !keep[key] {
			delete(x.entries, key)
		}
	}
}

// Rewatches counts the watches made again after one ended on its own.
func (x *Index) Rewatches() int64 { return x.rewatches.Load() }

// Ready is closed once the index holds every record that existed at start.
func (x *Index) Ready() <-chan struct{} { return x.ready }

// Stop ends the watch.
func (x *Index) Stop() {
	if x.stop != nil {
		x.stop()
		<-x.done
	}
}

func (x *Index) apply(e jetstream.KeyValueEntry) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if e.Operation() != jetstream.KeyValuePut {
		delete(x.entries, e.Key())
		return
	}
	rec, err := jobstore.Decode(e.Value())
	if err != nil {
		x.log.Warn("undecodable record", zap.String("job_id", e.Key()), zap.Error(err))
		return
	}
	entry := Entry{JobID: rec.JobID, Status: rec.Status, Model: rec.Spec.Model, Prompt: rec.Spec.Prompt, Runner: rec.Runner,
		Attempts: rec.Attempts, CreatedAt: rec.CreatedAt, StartedAt: rec.StartedAt, CompletedAt: rec.CompletedAt,
		UpdatedAt: rec.UpdatedAt, Delivery: rec.Delivery, ChangedAt: e.Created()}
	if rec.Status == job.StatusProcessing {
		entry.RunStartedAt = e.Created()
		// A later write under the same delivery does not restart its clock.
		if prev, ok := x.entries[e.Key()]; ok && prev.Status == job.StatusProcessing && prev.Delivery.Same(rec.Delivery) {
			entry.RunStartedAt = prev.RunStartedAt
		}
	}
	x.entries[e.Key()] = entry
}

// Counts are the original app's queue counts.
type Counts struct {
	Pending    int `json:"pending"`
	Processing int `json:"processing"`
	Completed  int `json:"completed"`
	Failed     int `json:"failed"`
	Rejected   int `json:"rejected"`
	Cancelled  int `json:"cancelled"`
	Total      int `json:"total"`
}

func (c *Counts) add(s job.Status) {
	switch s {
	case job.StatusQueued:
		c.Pending++
	case job.StatusProcessing:
		c.Processing++
	case job.StatusCompleted:
		c.Completed++
	case job.StatusFailed:
		c.Failed++
	case job.StatusCancelled:
		c.Cancelled++
	case job.StatusRejected:
		c.Rejected++
		return // not a job: left out of total, as the original never stored them
	}
	c.Total++
}

// Detailed adds the original's ?detailed=true figures.
type Detailed struct {
	Counts
	Recent24h Counts `json:"recent_24h"`
	// LastHour counts the jobs that ended in the last hour, by how; its
	// completed count over 3600 is the recent throughput.
	LastHour             EndedCounts       `json:"last_hour"`
	AvgProcessingSeconds float64           `json:"avg_processing_time_seconds"`
	PerModel             map[string]Counts `json:"models"`
	FailureRatePercent   float64           `json:"failure_rate"`
}

// EndedCounts are jobs that ended in a window, by how they ended.
type EndedCounts struct {
	Completed int `json:"completed"`
	Failed    int `json:"failed"`
	Cancelled int `json:"cancelled"`
	// FailureRatePercent is failed ÷ (completed + failed).
	FailureRatePercent float64 `json:"failure_rate"`
}

// Counts returns counts by status.
func (x *Index) Counts() Counts {
	x.mu.RLock()
	defer x.mu.RUnlock()
	var c Counts
	for _, e := range x.entries {
		c.add(e.Status)
	}
	return c
}

// Detailed returns counts, the last 24 hours' counts, the average
// processing time of completed jobs, per-model counts and the failure rate
// of ended jobs.
func (x *Index) Detailed(now time.Time) Detailed {
	x.mu.RLock()
	defer x.mu.RUnlock()
	d := Detailed{PerModel: map[string]Counts{}}
	var busy time.Duration
	var timed int
	for _, e := range x.entries {
		d.add(e.Status)
		if now.Sub(e.CreatedAt) <= 24*time.Hour {
			d.Recent24h.add(e.Status)
		}
		if e.Model != "" {
			m := d.PerModel[e.Model]
			m.add(e.Status)
			d.PerModel[e.Model] = m
		}
		if e.Status == job.StatusCompleted && e.StartedAt != nil && e.CompletedAt != nil {
			busy += e.CompletedAt.Sub(*e.StartedAt)
			timed++
		}
		if e.Status.Terminal() && now.Sub(e.ChangedAt) <= time.Hour {
			switch e.Status {
			case job.StatusCompleted:
				d.LastHour.Completed++
			case job.StatusFailed:
				d.LastHour.Failed++
			case job.StatusCancelled:
				d.LastHour.Cancelled++
			}
		}
	}
	if ended := d.LastHour.Completed + d.LastHour.Failed; ended > 0 {
		d.LastHour.FailureRatePercent = 100 * float64(d.LastHour.Failed) / float64(ended)
	}
	if timed > 0 {
		d.AvgProcessingSeconds = busy.Seconds() / float64(timed)
	}
	if ended := d.Completed + d.Failed; ended > 0 {
		d.FailureRatePercent = 100 * float64(d.Failed) / float64(ended)
	}
	return d
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
	for _, e := range x.entries {
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
