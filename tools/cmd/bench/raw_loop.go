package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
)

// loopResult is the raw loop: runners × slots goroutines doing exactly a
// job's work (the demo model's generate, the runner's PNG encode, the PUT
// with metadata) with no NATS, in bench-model; its CPU per job counts
// bench-model, MinIO and the harness (idle then) during the loop.
type loopResult struct {
	Jobs       int     `json:"jobs"`
	Workers    int     `json:"workers"`
	Seconds    float64 `json:"seconds"`
	JobsPerSec float64 `json:"jobs_per_sec"`
	// CPUMSPerJob by process: "worker" (bench-model: model, encode, S3
	// client), "minio", "nats+harness", and "total".
	CPUMSPerJob map[string]float64 `json:"cpu_ms_per_job"`
}

func rawLoop(ctx context.Context, st *stack, o options) (loopResult, error) {
	var res loopResult
	workers := o.runners * o.slots
	cmd := exec.CommandContext(ctx, st.bins["bench-model"], "-loop-jobs", strconv.Itoa(o.jobs), "-loop-workers", strconv.Itoa(workers),
		"-size", strconv.Itoa(o.size), "-steps", strconv.Itoa(o.steps),
		"-ort-lib", o.ortLib, "-model", filepath.Join(st.root, "infra", "models", "demo", "model.onnx"))
	cmd.Dir = st.root
	cmd.Env = append(cmd.Environ(), "CYBERIMAGE_S3_ENDPOINT="+st.s3.Endpoint, "CYBERIMAGE_S3_BUCKET="+st.s3.Bucket,
		"CYBERIMAGE_S3_ACCESS_KEY="+st.s3.AccessKey, "CYBERIMAGE_S3_SECRET_KEY="+st.s3.SecretKey)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cpu0 := sampleCPU([]*proc{st.minio})
	if err := cmd.Run(); err != nil {
		return res, fmt.Errorf("bench-model raw loop: %w: %s", err, stderr.String())
	}
	use := sampleCPU([]*proc{st.minio}).since(cpu0, o.cores)
	var out struct {
		Jobs       int     `json:"jobs"`
		Workers    int     `json:"workers"`
		Seconds    float64 `json:"seconds"`
		JobsPerSec float64 `json:"jobs_per_sec"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil || out.Jobs == 0 {
		return res, fmt.Errorf("bench-model raw loop output %q: %v", stdout.String(), err)
	}
	res.Jobs, res.Workers, res.Seconds, res.JobsPerSec = out.Jobs, out.Workers, out.Seconds, out.JobsPerSec
	// The child's own CPU, all threads, as the kernel accounted it.
	worker := (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds() * 1000 / float64(res.Jobs)
	perJob := func(cpuSeconds float64) float64 { return round3(cpuSeconds * 1000 / float64(res.Jobs)) }
	res.CPUMSPerJob = map[string]float64{
		"worker":    round3(worker),
		"minio":     perJob(use.ByProcess["minio"]),
		harnessName: perJob(use.ByProcess[harnessName]),
	}
	res.CPUMSPerJob["total"] = round3(res.CPUMSPerJob["worker"] + res.CPUMSPerJob["minio"] + res.CPUMSPerJob[harnessName])
	return res, nil
}
