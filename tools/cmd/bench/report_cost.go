package main

import (
	"fmt"
	"strings"
)

// Targets of the per-job cost issue (26), printed, never asserted: the
// pipeline with every guarantee, against the raw loop and its design's
// floor measured in the same run (and the queue-overhead issue's ratio and
// messages, kept).
const (
	targetOverheadCPUMS   = 1.5 // CPU-ms per job beyond the raw loop
	targetServicesCPUMS   = 0.3 // pipeline − floor: what the services' code adds
	targetP50LessEncodeMS = 1.5 // p50 overhead at one in flight, less the PNG encode
	targetLoopRatio       = 0.90
	targetNATSMsgsPerJob  = 12 // messages per job, in and out together
)

// The measures the targets are judged on, as results.json names them.
const (
	measureLoopRatio = "pipeline ÷ raw loop, jobs/s"
	measureOverhead  = "overhead over the raw loop, CPU-ms per job"
	measureServices  = "pipeline − floor, CPU-ms per job"
	measureP50       = "p50 overhead at one in flight less the PNG encode, ms"
)

// costColumn is one way of doing the same jobs' work, in the per-job cost
// table: the raw loop, the design's floor, the pipeline or the peer.
type costColumn struct {
	JobsPerSec float64 `json:"jobs_per_sec"`
	LoopRatio  float64 `json:"loop_ratio"`
	// CPUMSPerJob is every process's CPU per job; OverheadCPUMS what it
	// spends beyond the raw loop.
	CPUMSPerJob   float64 `json:"cpu_ms_per_job"`
	OverheadCPUMS float64 `json:"overhead_cpu_ms_per_job"`
	// P50OverheadMS is e2e − (inference + upload) at p50 with one job in
	// flight (the pipeline's -inflight); LessEncode also subtracts the PNG
	// encode, which the raw loop counts as work. Absent when not measured.
	P50OverheadMS           *float64 `json:"p50_overhead_ms,omitempty"`
	P50OverheadLessEncodeMS *float64 `json:"p50_overhead_less_encode_ms,omitempty"`
}

// costTarget is one target of the issue and where the pipeline stands.
type costTarget struct {
	Measure string  `json:"measure"`
	Op      string  `json:"op"` // "≥" or "≤"
	Target  float64 `json:"target"`
	Value   float64 `json:"value"`
	Pass    bool    `json:"pass"`
}

// perJobCost is the table side by side, as results.json holds it.
type perJobCost struct {
	RawLoop  *costColumn `json:"raw_loop,omitempty"`
	Floor    *costColumn `json:"design_floor,omitempty"`
	Pipeline *costColumn `json:"pipeline,omitempty"`
	Asynq    *costColumn `json:"asynq,omitempty"`
	// ServicesCPUMS is pipeline − floor, CPU-ms per job.
	ServicesCPUMS *float64     `json:"services_cpu_ms_per_job,omitempty"`
	Targets       []costTarget `json:"targets,omitempty"`
}

func ptr(v float64) *float64 { v = round3(v); return &v }

// column fills a cost column against the raw loop.
func column(jobsPerSec, cpu, loopRate, loopCPU float64) *costColumn {
	c := &costColumn{JobsPerSec: round3(jobsPerSec), CPUMSPerJob: round3(cpu), OverheadCPUMS: round3(cpu - loopCPU)}
	if loopRate > 0 {
		c.LoopRatio = round3(jobsPerSec / loopRate)
	}
	return c
}

// withLatency adds the p50 overhead at one in flight to a column.
func (c *costColumn) withLatency(overhead, encode float64) *costColumn {
	c.P50OverheadMS, c.P50OverheadLessEncodeMS = ptr(overhead), ptr(overhead-encode)
	return c
}

// concludeCost fills r.Cost from the raw sets and the pipeline's phases,
// and records why the peer is missing when every run of it failed.
func (r *results) concludeCost() {
	loopRate, loopCPU := r.loopMean()
	if loopRate == 0 {
		return
	}
	cost := perJobCost{RawLoop: column(loopRate, loopCPU["total"], loopRate, loopCPU["total"])}
	pipe := column(r.Burst.JobsPerSec, r.Burst.CPUPerJobMS["total"], loopRate, loopCPU["total"])
	if r.Paced != nil {
		pipe.withLatency(r.Paced.OverheadP50, r.Paced.Stages["encode"].P50)
	}
	cost.Pipeline = pipe
	if floor, ok := r.floorMean(); ok {
		cost.Floor = column(floor.JobsPerSec, floor.CPUMSPerJob["total"], loopRate, loopCPU["total"]).
			withLatency(floor.OverheadP50MS(), floor.EncodeP50MS)
		cost.ServicesCPUMS = ptr(pipe.CPUMSPerJob - cost.Floor.CPUMSPerJob)
	}
	if a, ok := r.asynqMean(); ok {
		cost.Asynq = column(a.JobsPerSec, a.CPUMSPerJob["total"], loopRate, loopCPU["total"]).
			withLatency(a.OverheadP50MS(), a.EncodeP50MS)
	} else if r.AsynqNotMeasured == "" {
		for _, set := range r.Raw {
			if set.AsynqError != "" {
				r.AsynqNotMeasured = "failed: " + set.AsynqError
			}
		}
	}
	judge := func(measure, op string, target, value float64) {
		pass := value <= target
		if op == "≥" {
			pass = value >= target
		}
		cost.Targets = append(cost.Targets, costTarget{Measure: measure, Op: op, Target: target, Value: value, Pass: pass})
	}
	judge(measureLoopRatio, "≥", targetLoopRatio, pipe.LoopRatio)
	judge(measureOverhead, "≤", targetOverheadCPUMS, pipe.OverheadCPUMS)
	if cost.ServicesCPUMS != nil {
		judge(measureServices, "≤", targetServicesCPUMS, *cost.ServicesCPUMS)
	}
	if pipe.P50OverheadLessEncodeMS != nil {
		judge(measureP50, "≤", targetP50LessEncodeMS, *pipe.P50OverheadLessEncodeMS)
	}
	r.Cost = cost
}

// asynqMean is the peer's figures, the mean of its runs before and after
// the pipeline.
func (r *results) asynqMean() (asynqResult, bool) {
	var runs []*asynqResult
	for _, set := range r.Raw {
		if set.Asynq != nil {
			runs = append(runs, set.Asynq)
		}
	}
	m := asynqResult{CPUMSPerJob: map[string]float64{}}
	if len(runs) == 0 {
		return m, false
	}
	n := float64(len(runs))
	for _, a := range runs {
		m.Version, m.RedisVersion, m.Workers, m.CheckIntervalMS = a.Version, a.RedisVersion, a.Workers, a.CheckIntervalMS
		m.Jobs += a.Jobs
		m.Paced += a.Paced
		m.JobsPerSec += a.JobsPerSec / n
		m.E2EP50MS += a.E2EP50MS / n
		m.InferenceP50MS += a.InferenceP50MS / n
		m.EncodeP50MS += a.EncodeP50MS / n
		m.UploadP50MS += a.UploadP50MS / n
		m.RedisCommandsPerJob += a.RedisCommandsPerJob / n
		for k, v := range a.CPUMSPerJob {
			m.CPUMSPerJob[k] += v / n
		}
	}
	return m, true
}

// printCost prints the per-job cost side by side: the raw loop, the
// design's floor, the pipeline and asynq + Redis, all of the same work in
// this run, with the targets judged on the pipeline.
func printCost(p func(string, ...any), r *results) {
	c := r.Cost
	if c.RawLoop == nil || c.Pipeline == nil {
		return
	}
	cell := func(col *costColumn, v func(*costColumn) string) string {
		if col == nil {
			return ""
		}
		return v(col)
	}
	num := func(format string, get func(*costColumn) float64) func(*costColumn) string {
		return func(col *costColumn) string { return fmt.Sprintf(format, get(col)) }
	}
	opt := func(get func(*costColumn) *float64) func(*costColumn) string {
		return func(col *costColumn) string {
			if v := get(col); v != nil {
				return fmt.Sprintf("%.2f", *v)
			}
			return ""
		}
	}
	asynqHead := "asynq + Redis"
	if c.Asynq == nil {
		asynqHead += " (not measured)"
	}
	row := func(label string, v func(*costColumn) string, target string) {
		p("| %s | %s | %s | **%s** | %s | %s |", label, cell(c.RawLoop, v), cell(c.Floor, v), cell(c.Pipeline, v), cell(c.Asynq, v), target)
	}
	target := func(measure string) string {
		for _, t := range c.Targets {
			if t.Measure == measure {
				return fmt.Sprintf("%s %.2f %s", t.Op, t.Target, verdict(t.Pass))
			}
		}
		return ""
	}
	p("")
	p("### Per-job cost: the pipeline against the raw loop, its design's floor and asynq")
	p("")
	p("The same work per job (the demo model's generate, the runner's PNG encode, the PUT with metadata) four ways, in this run: "+
		"the raw loop (%d goroutines, no queue), the design's floor (every message and object of the design, no services), "+
		"the pipeline, and asynq with Redis. Targets are judged on the pipeline.", r.Config.Concurrency)
	p("")
	p("| | raw loop | design floor | pipeline | %s | target |", asynqHead)
	p("|---|---:|---:|---:|---:|---|")
	row("jobs/s", num("%.1f", func(c *costColumn) float64 { return c.JobsPerSec }), "")
	row("÷ raw loop", num("%.2f", func(c *costColumn) float64 { return c.LoopRatio }), target(measureLoopRatio))
	row("CPU-ms per job, all processes", num("%.2f", func(c *costColumn) float64 { return c.CPUMSPerJob }), "")
	row("overhead over the raw loop, CPU-ms per job", num("%.2f", func(c *costColumn) float64 { return c.OverheadCPUMS }), target(measureOverhead))
	if c.ServicesCPUMS != nil {
		p("| pipeline − floor, CPU-ms per job (the services' code) | | | **%.2f** | | %s |", *c.ServicesCPUMS, target(measureServices))
	}
	if c.Pipeline.P50OverheadMS != nil {
		inflight := r.Config.InFlight
		row(fmt.Sprintf("p50 overhead at %d in flight, e2e − (inference + upload), ms", inflight), opt(func(c *costColumn) *float64 { return c.P50OverheadMS }), "")
		row("same, less the PNG encode, ms", opt(func(c *costColumn) *float64 { return c.P50OverheadLessEncodeMS }), target(measureP50))
	}
	p("")
	a, ok := r.asynqMean()
	if !ok {
		p("asynq: not measured (%s)", r.AsynqNotMeasured)
		return
	}
	p("asynq + Redis: the same work per task, asynq %s with redis-server %s started by the bench (loopback, its own temp dir, Redis's default persistence: "+
		"RDB snapshots, no append-only file), measured %s the pipeline. One process enqueues each job's work message "+
		"with a task id (deduplication) and a retention, and runs an asynq server of concurrency %d whose handler does "+
		"the work and writes the image key and stages as the task's result; the task is kept as completed. "+
		"TaskCheckInterval %.0f ms (asynq's default, 1 s, would make its latency at one in flight the poll); its latency "+
		"ends when the handler returns, before asynq marks the task completed. CPU-ms per job: bench-model (client, "+
		"server and the work) %.3f, redis-server %.3f, MinIO %.3f, %s %.3f; %.1f Redis commands per job.",
		a.Version, a.RedisVersion, rawWhenAsynq(r.Raw), a.Workers, a.CheckIntervalMS,
		a.CPUMSPerJob["worker"], a.CPUMSPerJob["redis"], a.CPUMSPerJob["minio"], harnessName, a.CPUMSPerJob[harnessName], a.RedisCommandsPerJob)
}

// rawWhenAsynq says when the peer was measured: before and after the
// pipeline, or one of them when the other run failed.
func rawWhenAsynq(sets []rawSet) string {
	var when []string
	for _, s := range sets {
		if s.Asynq != nil {
			when = append(when, s.When)
		}
	}
	return strings.Join(when, " and ")
}
