// Package stats keeps the supervisor's own figures over time, minute by
// minute for the last 24 hours: jobs completed, failed and cancelled (in
// all and by model), end-to-end and queue-wait latencies, the work queue's
// depth by model and by priority class, and each
// runner's busy slots, GPU telemetry and recent jobs. The console draws
// its charts from them; no external service is needed.
//
// Memory is bounded whatever the traffic: a ring of 1,440 minutes, each a
// few counters and two fixed-size latency histograms; label sets (models,
// priorities) and runners are capped. The figures live in memory only: a
// restarted supervisor starts them afresh (Series.Since says when).
package stats

import (
	"sync"
	"time"

	"cyberimage/shared/defaults"
	"cyberimage/shared/job"
)

// Span is how far back the figures go.
const Span = 24 * time.Hour

const slots = int(Span / time.Minute)

// Limits cap what the Recorder holds; zero fields take the defaults.
type Limits struct {
	// Labels caps the models, and separately the priorities, that get a
	// series of their own (16); the rest are counted under Other.
	Labels int
	// Runners caps the runners followed (32); the one heard from least
	// recently makes room for a new one.
	Runners int
	// GPUs caps the GPUs kept per runner sample (8).
	GPUs int
	// RecentJobs is how many ended jobs are kept per runner (20).
	RecentJobs int
}

func (l Limits) withDefaults() Limits {
	l.Labels = defaults.Positive(l.Labels, 16)
	l.Runners = defaults.Positive(l.Runners, 32)
	l.GPUs = defaults.Positive(l.GPUs, 8)
	l.RecentJobs = defaults.Positive(l.RecentJobs, 20)
	return l
}

// Other is the label under which models or priorities past the cap are
// counted.
const Other = "other"

// ended counts by how jobs ended.
type ended struct{ completed, failed, cancelled uint32 }

func (e *ended) add(s job.Status) {
	switch s {
	case job.StatusCompleted:
		e.completed++
	case job.StatusFailed:
		e.failed++
	case job.StatusCancelled:
		e.cancelled++
	}
}

func (e *ended) plus(o ended) {
	e.completed += o.completed
	e.failed += o.failed
	e.cancelled += o.cancelled
}

// minute is one slot of the ring.
type minute struct {
	at        int64 // the Unix minute it holds; another value: stale
	ended     ended
	e2e, wait hist
	byModel   map[string]ended
	// Queue depth: the highest sample of the minute, per label.
	depthModel, depthPriority map[string]int
}

// Recorder keeps the figures. It is safe for concurrent use.
type Recorder struct {
	now    func() time.Time
	limits Limits
	since  time.Time

	mu         sync.Mutex
	ring       [slots]minute
	models     labels
	priorities labels
	runners    map[string]*runner
}

// New makes a Recorder; now is its clock (nil: time.Now).
func New(now func() time.Time, limits Limits) *Recorder {
	if now == nil {
		now = time.Now
	}
	limits = limits.withDefaults()
	return &Recorder{now: now, limits: limits, since: now().UTC(), runners: map[string]*runner{},
		models: labels{cap: limits.Labels, known: map[string]bool{}}, priorities: labels{cap: limits.Labels, known: map[string]bool{}}}
}

func minuteOf(t time.Time) int64 { return t.Unix() / 60 }

// slot is the ring's slot for minute m, emptied if it held an older one.
// Caller holds r.mu.
func (r *Recorder) slot(m int64) *minute {
	s := &r.ring[m%int64(slots)]
	if s.at != m {
		*s = minute{at: m}
	}
	return s
}

// at is the ring's slot for minute m if it holds that minute. Caller holds
// r.mu.
func (r *Recorder) at(m int64) *minute {
	s := &r.ring[m%int64(slots)]
	if s.at != m {
		return nil
	}
	return s
}

// Ended counts a job that ended now, as the index saw it: how it ended,
// its model, its latencies (end to end for completed jobs, from the
// request to the result; queue wait for any job that started), and its
// runner's recent jobs.
func (r *Recorder) Ended(rec job.Record) {
	if !rec.Status.Terminal() || rec.Status == job.StatusRejected {
		return // a rejected request never was work
	}
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.slot(minuteOf(now))
	s.ended.add(rec.Status)
	model := r.models.of(rec.Spec.Model)
	if s.byModel == nil {
		s.byModel = map[string]ended{}
	}
	e := s.byModel[model]
	e.add(rec.Status)
	s.byModel[model] = e
	if rec.Status == job.StatusCompleted && rec.CompletedAt != nil && !rec.CreatedAt.IsZero() {
		s.e2e.add(job.Millis(rec.CompletedAt.Sub(rec.CreatedAt)))
	}
	if wait, ok := queueWait(rec); ok {
		s.wait.add(wait)
	}
	r.noteEnded(rec, now)
}

// queueWait is how long the job waited for its (last) run, in ms: the
// runner's own measure when it gave one, else from request to start.
func queueWait(rec job.Record) (float64, bool) {
	if rec.Stages.QueueWaitMS > 0 {
		return rec.Stages.QueueWaitMS, true
	}
	if rec.StartedAt != nil && !rec.CreatedAt.IsZero() {
		return job.Millis(rec.StartedAt.Sub(rec.CreatedAt)), true
	}
	return 0, false
}

// Depth notes a sample of the work queue's depth (messages not yet
// delivered) by model and by priority (nil: none); a minute keeps its
// highest sample of each.
func (r *Recorder) Depth(byModel, byPriority map[string]int) {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.slot(minuteOf(now))
	s.depthModel = keepMax(s.depthModel, byModel, &r.models)
	s.depthPriority = keepMax(s.depthPriority, byPriority, &r.priorities)
}

func keepMax(into, sample map[string]int, l *labels) map[string]int {
	if len(sample) == 0 {
		return into
	}
	// Labels folded into Other add up within the sample.
	folded := make(map[string]int, len(sample))
	for k, v := range sample {
		folded[l.of(k)] += v
	}
	if into == nil {
		into = make(map[string]int, len(folded))
	}
	for k, v := range folded {
		if old, ok := into[k]; !ok || v > old {
			into[k] = v
		}
	}
	return into
}

// labels caps a set of series names: the first cap names seen keep their
// own series, later ones are counted under Other.
type labels struct {
	cap   int
	known map[string]bool
}

func (l *labels) of(name string) string {
	if name == "" {
		name = "unknown"
	}
	if l.known[name] {
		return name
	}
	if len(l.known) >= l.cap {
		return Other
	}
	l.known[name] = true
	return name
}
