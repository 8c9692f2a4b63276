package stats

import (
	"time"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
)

// runner is what the Recorder keeps of one runner: a ring of minutes with
// its last sample in each, and its last ended jobs.
type runner struct {
	heard  time.Time
	ring   []runnerMinute // slots entries, made on first sight
	recent []RecentJob    // newest last, at most Limits.RecentJobs
}

type runnerMinute struct {
	at          int64
	busy, slots int
	gpus        []GPUSample
}

// GPUSample is one GPU's telemetry in a minute.
type GPUSample struct {
	Index              int     `json:"index"`
	UtilizationPercent uint32  `json:"utilization_percent"`
	MemoryUsedMiB      uint32  `json:"memory_used_mib"`
	MemoryTotalMiB     uint32  `json:"memory_total_mib"`
	TemperatureC       uint32  `json:"temperature_c"`
	PowerWatts         float32 `json:"power_watts"`
}

// RecentJob is a job a runner worked on that ended.
type RecentJob struct {
	JobID   string     `json:"job_id"`
	Status  job.Status `json:"status"`
	Model   string     `json:"model"`
	EndedAt time.Time  `json:"ended_at"`
	// Seconds is how long its last run took (start to end), when known.
	Seconds float64 `json:"seconds,omitempty"`
}

// RunnerSample is what a heartbeat says about a runner's load.
type RunnerSample struct {
	Runner      string
	Busy, Slots int
	GPUs        []bus.GPU
}

// Runner notes a runner's latest heartbeat figures for this minute.
func (r *Recorder) Runner(h RunnerSample) {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	rn := r.runner(h.Runner, now)
	m := minuteOf(now)
	s := &rn.ring[m%int64(slots)]
	gpus := h.GPUs[:min(len(h.GPUs), r.limits.GPUs)]
	samples := s.gpus[:0]
	if s.at != m {
		samples = nil // the slot's slice may be shared with an old read: make a new one
	}
	for _, g := range gpus {
		samples = append(samples, GPUSample{Index: g.Index, UtilizationPercent: g.UtilizationPercent, MemoryUsedMiB: uint32(g.MemoryUsed >> 20),
			MemoryTotalMiB: uint32(g.MemoryTotal >> 20), TemperatureC: g.TemperatureC, PowerWatts: float32(g.PowerWatts)})
	}
	*s = runnerMinute{at: m, busy: h.Busy, slots: h.Slots, gpus: samples}
}

// runner is the runner's entry, made (evicting the one heard from least
// recently when full) if new. Caller holds r.mu.
func (r *Recorder) runner(name string, now time.Time) *runner {
	rn, ok := r.runners[name]
	if !ok {
		if len(r.runners) >= r.limits.Runners {
			var oldest string
			for k, v := range r.runners {
				if oldest == "" || v.heard.Before(r.runners[oldest].heard) {
					oldest = k
				}
			}
			delete(r.runners, oldest)
		}
		rn = &runner{ring: make([]runnerMinute, slots)}
		r.runners[name] = rn
	}
	rn.heard = now
	return rn
}

// noteEnded adds an ended job to its runner's recent jobs. Caller holds
// r.mu.
func (r *Recorder) noteEnded(rec job.Record, now time.Time) {
	if rec.Runner == "" {
		return
	}
	rn := r.runner(rec.Runner, now)
	j := RecentJob{JobID: rec.JobID, Status: rec.Status, Model: rec.Spec.Model, EndedAt: now.UTC()}
	if rec.StartedAt != nil && rec.CompletedAt != nil {
		j.Seconds = rec.CompletedAt.Sub(*rec.StartedAt).Seconds()
	}
	if len(rn.recent) >= r.limits.RecentJobs {
		rn.recent = append(rn.recent[:0], rn.recent[1:]...)
	}
	rn.recent = append(rn.recent, j)
}

// RunnerSeries is one runner's figures over a window: a point per minute
// (last hour) or per ten minutes (last day), each the step's last sample.
type RunnerSeries struct {
	Window      string      `json:"window"`
	StepSeconds int         `json:"step_seconds"`
	Times       []time.Time `json:"times"`
	// Busy and Slots are nil in steps with no heartbeat.
	Busy  []*int `json:"busy"`
	Slots []*int `json:"slots"`
	// GPUs are the samples of each step (nil: none).
	GPUs [][]GPUSample `json:"gpus"`
	// Recent are its last ended jobs, newest first.
	Recent []RecentJob `json:"recent_jobs"`
}

// RunnerSeries reads a runner's figures over the window named; ok is false
// when the runner was never heard of (or was evicted).
func (r *Recorder) RunnerSeries(name, window string) (RunnerSeries, bool, error) {
	f, err := r.frame(window)
	if err != nil {
		return RunnerSeries{}, false, err
	}
	start, per, points := f.start, f.per, f.points
	r.mu.Lock()
	defer r.mu.Unlock()
	rn, ok := r.runners[name]
	if !ok {
		return RunnerSeries{}, false, nil
	}
	out := RunnerSeries{Window: window, StepSeconds: f.stepSeconds, Times: make([]time.Time, points),
		Busy: make([]*int, points), Slots: make([]*int, points), GPUs: make([][]GPUSample, points), Recent: make([]RecentJob, 0, len(rn.recent))}
	for p := range points {
		from := start + int64(p)*per
		out.Times[p] = time.Unix(from*60, 0).UTC()
		for m := from + per - 1; m >= from; m-- { // the step's last sample
			s := &rn.ring[m%int64(slots)]
			if s.at != m {
				continue
			}
			busy, n := s.busy, s.slots
			out.Busy[p], out.Slots[p] = &busy, &n
			out.GPUs[p] = append([]GPUSample(nil), s.gpus...)
			break
		}
	}
	for i := len(rn.recent) - 1; i >= 0; i-- {
		out.Recent = append(out.Recent, rn.recent[i])
	}
	return out, true, nil
}
