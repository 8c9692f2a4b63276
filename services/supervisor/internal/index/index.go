// Package index keeps an in-memory view of every job record by watching the
// KV bucket, so counts and lists are answered without scanning the bucket
// on each request and always agree with KV (they are derived from it).
package index

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
)

// Entry is what the index keeps of a record.
type Entry struct {
	JobID       string
	Status      job.Status
	Model       string
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
}

// New makes an index of the bucket; Start fills it.
func New(kv jetstream.KeyValue, logger *zap.Logger) *Index {
	return &Index{kv: kv, log: logger.Named("index"), entries: map[string]Entry{}, ready: make(chan struct{}), done: make(chan struct{})}
}

// Start begins watching; Ready closes once existing records are loaded.
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
		defer func() { _ = watcher.Stop() }()
		readyOnce := sync.OnceFunc(func() { close(x.ready) })
		for {
			select {
			case <-wctx.Done():
				return
			case e, ok := <-watcher.Updates():
				if !ok {
					return
				}
				if e == nil { // end of the initial values
					readyOnce()
					continue
				}
				x.apply(e)
			}
		}
	}()
	return nil
}

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
	entry := Entry{JobID: rec.JobID, Status: rec.Status, Model: rec.Spec.Model, Runner: rec.Runner,
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
	Recent24h            Counts            `json:"recent_24h"`
	AvgProcessingSeconds float64           `json:"avg_processing_time_seconds"`
	PerModel             map[string]Counts `json:"models"`
	FailureRatePercent   float64           `json:"failure_rate"`
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
