package api

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"cyberimage/services/supervisor/internal/recoveries"
	"cyberimage/shared/job"
	"cyberimage/shared/metrics"
)

// The supervisor's series, read from its index, the work queue's
// consumers, the runners' heartbeats and the recovery log at each scrape:
// the index keeps them O(models), and the oldest queued job's age
// O(jobs in flight), so a scrape costs the same whatever the history.
var (
	jobsDesc = prometheus.NewDesc(metrics.Namespace+"_jobs",
		"Jobs by model and status: queued and processing now; completed, failed, cancelled and rejected since counting began (ended jobs stay counted after their records expire; purged ones leave).",
		[]string{"model", "status"}, nil)
	queuePendingDesc = prometheus.NewDesc(metrics.Namespace+"_queue_pending", "Work messages waiting for a runner, all models.", nil, nil)
	queueInProgDesc  = prometheus.NewDesc(metrics.Namespace+"_queue_in_progress", "Work messages delivered and not yet acked (running or prefetched).", nil, nil)
	queueRedelDesc   = prometheus.NewDesc(metrics.Namespace+"_queue_redelivered", "Work messages now pending that were delivered before.", nil, nil)
	queueOldestDesc  = prometheus.NewDesc(metrics.Namespace+"_queue_oldest_seconds",
		"Age of the oldest queued job (from its request; 0 when none is queued).", nil, nil)
	deadLettersDesc = prometheus.NewDesc(metrics.Namespace+"_dead_letters", "Messages in the dead-letter stream.", nil, nil)
	recoveriesDesc  = prometheus.NewDesc(metrics.Namespace+"_recoveries_total",
		"Jobs taken away from a runner by the watchdog, by rule (stalled, silent, ...).", []string{"rule"}, nil)
	runnersDesc = prometheus.NewDesc(metrics.Namespace+"_runners",
		"Runners by health: healthy, unhealthy (stalled twice within the cooldown) or lost (no heartbeat).", []string{"health"}, nil)
	runnerSlotsDesc = prometheus.NewDesc(metrics.Namespace+"_runners_slots",
		"Job slots of the runners heard from, by state: busy or total.", []string{"state"}, nil)
	rewatchesDesc = prometheus.NewDesc(metrics.Namespace+"_index_rewatches_total",
		"Times the follow of the job records was made again after it ended or went blind.", nil, nil)
	modelPausedDesc = prometheus.NewDesc(metrics.Namespace+"_model_paused",
		"1 while an operator has paused the model's queue (its jobs wait), else 0.", []string{"model"}, nil)
	runnerDrainingDesc = prometheus.NewDesc(metrics.Namespace+"_runner_draining",
		"1 while an operator has drained the runner (it takes no new work), else 0; every runner heard from and every one drained.", []string{"runner"}, nil)
	leaderDesc           = prometheus.NewDesc(metrics.Namespace+"_supervisor_leader", "1 while this supervisor holds the leader lease.", nil, nil)
	trackerEvictionsDesc = prometheus.NewDesc(metrics.Namespace+"_tracker_evictions_total",
		"Entries the supervisor's runner and progress maps let go of other than by a job ending: expired (aged out), evicted (pushed out at the cap), refused (not kept at the cap).",
		[]string{"map", "reason"}, nil)
	trackerEntriesDesc = prometheus.NewDesc(metrics.Namespace+"_tracker_entries",
		"Entries in the supervisor's runner and progress maps now.", []string{"map"}, nil)
)

type supervisorCollector struct{ s *Server }

func (c supervisorCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{jobsDesc, queuePendingDesc, queueInProgDesc, queueRedelDesc, queueOldestDesc, deadLettersDesc,
		recoveriesDesc, runnersDesc, runnerSlotsDesc, rewatchesDesc, leaderDesc, modelPausedDesc, runnerDrainingDesc, trackerEvictionsDesc, trackerEntriesDesc} {
		ch <- d
	}
}

func (c supervisorCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for model, n := range s.p.Index.ByModel() {
		for _, st := range job.Statuses() {
			gauge(jobsDesc, float64(n.Of(st)), model, string(st))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if q, err := s.consumerState(ctx); err == nil {
		gauge(queuePendingDesc, float64(q.Pending))
		gauge(queueInProgDesc, float64(q.InProgress))
		gauge(queueRedelDesc, float64(q.Redelivered))
		gauge(deadLettersDesc, float64(q.Dead))
		for _, m := range s.modelStates(q) {
			gauge(modelPausedDesc, metrics.Bool(m.Paused), m.Name)
		}
	}
	oldest := 0.0
	if t := s.p.Index.OldestQueued(); !t.IsZero() {
		oldest = time.Since(t).Seconds()
	}
	gauge(queueOldestDesc, oldest)
	counts := s.p.Recoveries.Counts()
	for _, rule := range recoveries.Kinds() { // every rule, at zero until it fires
		ch <- prometheus.MustNewConstMetric(recoveriesDesc, prometheus.CounterValue, float64(counts[rule]), rule)
	}
	health := map[string]int{"healthy": 0, "unhealthy": 0, "lost": 0}
	busy, total := 0, 0
	for _, r := range s.runners() {
		health[r.Health]++
		if r.Health != "lost" {
			busy += r.Busy
			total += r.Slots
		}
	}
	c.drains(ctx, gauge)
	for h, n := range health {
		gauge(runnersDesc, float64(n), h)
	}
	gauge(runnerSlotsDesc, float64(busy), "busy")
	gauge(runnerSlotsDesc, float64(total), "total")
	ch <- prometheus.MustNewConstMetric(rewatchesDesc, prometheus.CounterValue, float64(s.p.Index.Rewatches()))
	if s.p.Tracker != nil {
		for _, e := range s.p.Tracker.Evictions() {
			ch <- prometheus.MustNewConstMetric(trackerEvictionsDesc, prometheus.CounterValue, float64(e.Count), e.Map, e.Reason)
		}
		runners, progress := s.p.Tracker.Sizes()
		gauge(trackerEntriesDesc, float64(runners), "runners")
		gauge(trackerEntriesDesc, float64(progress), "progress")
	}
	if s.p.Leader != nil {
		leads, _ := s.p.Leader()
		gauge(leaderDesc, metrics.Bool(leads))
	}
}

// drains reports every runner heard from and every drained one, 1 while
// drained; nothing when the drains cannot be read.
func (c supervisorCollector) drains(ctx context.Context, gauge func(*prometheus.Desc, float64, ...string)) {
	drained := c.s.drainedRunners(ctx)
	if drained == nil {
		return
	}
	seen := map[string]bool{}
	for _, r := range c.s.runners() {
		seen[r.Runner] = true
		_, d := drained[r.Runner]
		gauge(runnerDrainingDesc, metrics.Bool(d), r.Runner)
	}
	for r := range drained {
		if !seen[r] {
			gauge(runnerDrainingDesc, 1, r)
		}
	}
}
