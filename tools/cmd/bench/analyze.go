package main

import (
	"slices"
	"time"

	"cyberimage/shared/job"
)

// Stages of a job, in pipeline order. The record gives queue wait,
// inference, encode and upload; the rest is derived from its timestamps
// and from what the harness saw:
//
//	publish_to_stream  record created_at (the request's stream time) − publish
//	queue_wait         runner start − created_at: ingest, the jobs queue, the fetch
//	runner_record      (completed_at − started_at) − inference − encode − upload:
//	                   the "processing" write, the "already stored?" check,
//	                   progress events and the read before the final write
//	finish_ack         "completed" event received − completed_at: the final
//	                   compare-and-set, the ack and its confirmation, the event
var stageNames = []string{"publish_to_stream", "queue_wait", "inference", "encode", "upload", "runner_record", "finish_ack"}

// phaseResult is one phase of the pipeline, summarised.
type phaseResult struct {
	Name      string `json:"name"`
	InFlight  int    `json:"in_flight,omitempty"` // 0: all published at once
	Jobs      int    `json:"jobs"`
	Completed int    `json:"completed"`
	Failed    int    `json:"failed"`
	Missing   int    `json:"missing"`
	// EventsLost counts jobs timed from their record because their
	// completion event did not arrive.
	EventsLost int     `json:"events_lost"`
	TimedOut   bool    `json:"timed_out,omitempty"`
	Seconds    float64 `json:"seconds"`
	// JobsPerSec is completed jobs over first publish → last completion.
	JobsPerSec float64 `json:"jobs_per_sec"`
	// SteadyJobsPerSec leaves out the first and last 10% of completions
	// (pipeline fill and drain).
	SteadyJobsPerSec float64         `json:"steady_jobs_per_sec"`
	E2E              dist            `json:"e2e"`
	Stages           map[string]dist `json:"stages"`
	// OverheadP50 is the measure: e2e p50 − (inference p50 +
	// upload p50).
	OverheadP50 float64 `json:"overhead_p50_ms"`
	// PerJobOverhead is e2e − inference − upload of each job.
	PerJobOverhead dist `json:"per_job_overhead"`
	// ServiceOverhead is the same less queue wait: what a job costs beyond
	// the model and the PUT once a runner is free for it.
	ServiceOverhead dist               `json:"service_overhead"`
	CPU             cpuUse             `json:"cpu"`
	CPUPerJobMS     map[string]float64 `json:"cpu_ms_per_job"`
	// NATSMsgsPerJob is the NATS server's traffic per completed job: every
	// request, record write, work message, fetch, ack, event and the
	// copies it delivered to each subscriber.
	NATSMsgsPerJob struct {
		perJobMsgs
		// ByClient is what each kind of client published (in) and was
		// delivered (out) per job.
		ByClient map[string]perJobMsgs `json:"by_client,omitempty"`
	} `json:"nats_msgs_per_job"`
	// CPUCeilingJobsPerSec is what the cores allow at the measured CPU
	// cost per job of our processes: cores / CPU-seconds per job.
	CPUCeilingJobsPerSec float64 `json:"cpu_ceiling_jobs_per_sec"`

	points []point
}

// perJobMsgs is one client's NATS messages per completed job.
type perJobMsgs struct {
	In  float64 `json:"in"`
	Out float64 `json:"out"`
}

// point is one completed job, for the charts.
type point struct {
	at         float64 // seconds from the phase start to completion
	e2e, queue float64 // ms
	stages     map[string]float64
}

func analyze(ph *phase) phaseResult {
	res := phaseResult{Name: ph.name, InFlight: ph.inflight, Jobs: len(ph.runs), TimedOut: ph.timedOut,
		Stages: map[string]dist{}, CPU: ph.cpu, CPUPerJobMS: map[string]float64{}}
	samples := map[string][]float64{}
	var e2e, perJob, service []float64
	var first, last time.Time
	var doneTimes []time.Time
	for _, r := range ph.runs {
		if first.IsZero() || r.published.Before(first) {
			first = r.published
		}
		switch {
		case r.failed:
			res.Failed++
			continue
		case r.done.IsZero() || !r.hasRec || r.rec.Status != job.StatusCompleted || r.rec.StartedAt == nil || r.rec.CompletedAt == nil:
			// Not ended, or ended after its record was read back (a phase
			// cut short by the deadline).
			res.Missing++
			continue
		}
		res.Completed++
		if r.fromRecord {
			res.EventsLost++
		}
		if r.done.After(last) {
			last = r.done
		}
		doneTimes = append(doneTimes, r.done)
		rec := r.rec
		st := map[string]float64{
			"publish_to_stream": job.Millis(rec.CreatedAt.Sub(r.published)),
			"queue_wait":        rec.Stages.QueueWaitMS,
			"inference":         rec.Stages.InferenceMS,
			"encode":            rec.Stages.EncodeMS,
			"upload":            rec.Stages.UploadMS,
			"runner_record":     job.Millis(rec.CompletedAt.Sub(*rec.StartedAt)) - rec.Stages.InferenceMS - rec.Stages.EncodeMS - rec.Stages.UploadMS,
			"finish_ack":        job.Millis(r.done.Sub(*rec.CompletedAt)),
		}
		for k, v := range st {
			samples[k] = append(samples[k], v)
		}
		total := job.Millis(r.done.Sub(r.published))
		e2e = append(e2e, total)
		over := total - st["inference"] - st["upload"]
		perJob = append(perJob, over)
		service = append(service, over-st["queue_wait"])
		res.points = append(res.points, point{at: r.done.Sub(ph.start).Seconds(), e2e: total, queue: st["queue_wait"], stages: st})
	}
	for _, name := range stageNames {
		res.Stages[name] = summarize(samples[name])
	}
	res.E2E = summarize(e2e)
	res.PerJobOverhead = summarize(perJob)
	res.ServiceOverhead = summarize(service)
	res.OverheadP50 = round3(res.E2E.P50 - res.Stages["inference"].P50 - res.Stages["upload"].P50)
	if res.Completed > 0 {
		span := last.Sub(first).Seconds()
		res.Seconds = round3(span)
		res.JobsPerSec = round3(float64(res.Completed) / span)
		slices.SortFunc(doneTimes, func(a, b time.Time) int { return a.Compare(b) })
		lo, hi := len(doneTimes)/10, len(doneTimes)*9/10
		if hi > lo+1 {
			res.SteadyJobsPerSec = round3(float64(hi-lo) / doneTimes[hi-1].Sub(doneTimes[lo]).Seconds())
		}
		var perJob float64
		for name, cpu := range ph.cpu.ByProcess {
			v := cpu * 1000 / float64(res.Completed)
			res.CPUPerJobMS[name] = round3(v)
			perJob += v
		}
		res.CPUPerJobMS["total"] = round3(perJob)
		res.NATSMsgsPerJob.perJobMsgs = ph.msgs.clientMsgs.perJob(res.Completed)
		res.NATSMsgsPerJob.ByClient = map[string]perJobMsgs{}
		for k, c := range ph.msgs.ByClient {
			res.NATSMsgsPerJob.ByClient[k] = c.perJob(res.Completed)
		}
		if perJob > 0 {
			res.CPUCeilingJobsPerSec = round3(float64(ph.cpu.Cores) * 1000 / perJob)
		}
	}
	return res
}
