// Package benchmodel is what bench-model (tools/cmd/bench-model) prints,
// one JSON object per run, and the bench (tools/cmd/bench) reads: one
// definition for both sides.
package benchmodel

import "fmt"

// Model is the demo model alone: how many inferences of one job (Steps ORT
// runs each) one session runs per second at Size, with nothing of the
// pipeline around it.
type Model struct {
	Runs       int     `json:"runs"`
	Seconds    float64 `json:"seconds"`
	RunsPerSec float64 `json:"runs_per_sec"`
	P50MS      float64 `json:"p50_ms"`
	P95MS      float64 `json:"p95_ms"`
	// CPUMSPerRun is the process's CPU time (all threads) per run: what one
	// job's inference costs a core.
	CPUMSPerRun float64 `json:"cpu_ms_per_run"`
	Size        int     `json:"size"`
	Steps       int     `json:"steps"`
	Threads     int     `json:"threads"`
	// PNGBytes and EncodeMS are the PNG a runner would store for the job
	// (with -png-out): its size and the time to encode it.
	PNGBytes int     `json:"png_bytes"`
	EncodeMS float64 `json:"encode_ms"`
}

// Loop is the raw loop: what the pipeline's runners do for each job
// (generate, encode the PNG, PUT it with its metadata), in plain goroutines
// with no queue around them. The bench divides the pipeline by it.
type Loop struct {
	Jobs       int     `json:"jobs"`
	Workers    int     `json:"workers"`
	Seconds    float64 `json:"seconds"`
	JobsPerSec float64 `json:"jobs_per_sec"`
}

// Floor is the design's floor: every NATS message and S3 object the
// pipeline spends on a job, made in one process with plain client calls
// and none of the services' code.
type Floor struct {
	Jobs       int     `json:"jobs"`
	Workers    int     `json:"workers"`
	Seconds    float64 `json:"seconds"`
	JobsPerSec float64 `json:"jobs_per_sec"`
	// Upto is the last part included (FloorParts): "archive" is the whole
	// design.
	Upto string `json:"upto"`
	// Paced is the latency run: jobs one at a time, end to end (request
	// published → `completed` event received) and the two stages the
	// pipeline's overhead formula subtracts.
	Paced          int     `json:"paced"`
	E2EP50MS       float64 `json:"e2e_p50_ms"`
	InferenceP50MS float64 `json:"inference_p50_ms"`
	UploadP50MS    float64 `json:"upload_p50_ms"`
	// EncodeP50MS is the PNG encode, which the pipeline's formula counts as
	// overhead and the raw loop as work.
	EncodeP50MS float64 `json:"encode_p50_ms"`
}

// OverheadP50MS is the floor's p50 overhead at one job in flight, by the
// pipeline's formula: e2e − (inference + upload).
func (f Floor) OverheadP50MS() float64 { return f.E2EP50MS - f.InferenceP50MS - f.UploadP50MS }

// Describe is the floor's figures in one line of progress.
func (f Floor) Describe() string {
	return fmt.Sprintf("%d jobs at %.1f/s; one at a time: e2e p50 %.2f ms, inference %.2f, upload %.2f",
		f.Jobs, f.JobsPerSec, f.E2EP50MS, f.InferenceP50MS, f.UploadP50MS)
}

// FloorParts are the floor's parts in order, each adding one guarantee's
// messages and objects to those before it (bench-model's floor.go says
// what each makes).
var FloorParts = []string{"queue", "record", "intake", "events", "supervisor", "archive"}

// Prompt is the prompt of every job the benchmarks make: the same text,
// so the work and record messages are the same size everywhere.
const Prompt = "benchmark: a neon koi pond at dusk"
