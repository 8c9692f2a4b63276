package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"

	"cyberimage/tools/internal/benchmodel"
	"cyberimage/tools/internal/benchstack"
)

// loopResult is the raw loop: runners × slots goroutines doing exactly a
// job's work (the demo model's generate, the runner's PNG encode, the PUT
// with metadata) with no NATS, in bench-model; its CPU per job counts
// bench-model, MinIO and the harness (idle then) during the loop.
type loopResult struct {
	benchmodel.Loop
	// CPUMSPerJob by process: "worker" (bench-model: model, encode, S3
	// client), "minio", "nats+harness", and "total".
	CPUMSPerJob map[string]float64 `json:"cpu_ms_per_job"`
}

func rawLoop(ctx context.Context, st *stack, o options) (loopResult, error) {
	var res loopResult
	workers := o.runners * o.slots
	out, cpu, err := runBenchModel(ctx, st, o, nil, "-loop-jobs", strconv.Itoa(o.jobs), "-loop-workers", strconv.Itoa(workers))
	if err != nil {
		return res, fmt.Errorf("bench-model raw loop: %w", err)
	}
	// bench-model reports its own CPU as one figure; the split by process
	// is measured here.
	if err := json.Unmarshal(out, &res.Loop); err != nil || res.Jobs == 0 {
		return res, fmt.Errorf("bench-model raw loop output %q: %v", out, err)
	}
	res.CPUMSPerJob = cpu.perJob(res.Jobs)
	return res, nil
}

// childCPU is the CPU-seconds a bench-model run took: the child itself
// (all threads, as the kernel accounted it), and MinIO and the harness (the
// NATS server) meanwhile.
type childCPU struct{ worker, minio, harness float64 }

// perJob is the CPU in ms per job by process, as the report shows it.
func (c childCPU) perJob(jobs int) map[string]float64 {
	ms := func(cpuSeconds float64) float64 { return round3(cpuSeconds * 1000 / float64(jobs)) }
	m := map[string]float64{"worker": ms(c.worker), "minio": ms(c.minio), harnessName: ms(c.harness)}
	m["total"] = round3(m["worker"] + m["minio"] + m[harnessName])
	return m
}

// runBenchModel runs bench-model with the demo model at the bench's size
// and steps, S3 settings (and env) in its environment, and returns its
// stdout and the CPU it and the servers spent.
func runBenchModel(ctx context.Context, st *stack, o options, env []string, args ...string) ([]byte, childCPU, error) {
	args = append([]string{"-size", strconv.Itoa(o.size), "-steps", strconv.Itoa(o.steps),
		"-ort-lib", o.ortLib, "-model", filepath.Join(st.root, "infra", "models", "demo", "model.onnx")}, args...)
	cmd := exec.CommandContext(ctx, st.bins["bench-model"], args...)
	cmd.Dir = st.root
	cmd.Env = append(cmd.Environ(), "CYBERIMAGE_S3_ENDPOINT="+st.s3.Endpoint, "CYBERIMAGE_S3_BUCKET="+st.s3.Bucket,
		"CYBERIMAGE_S3_ACCESS_KEY="+st.s3.AccessKey, "CYBERIMAGE_S3_SECRET_KEY="+st.s3.SecretKey)
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cpu0 := sampleCPU([]*benchstack.Proc{st.minio})
	if err := cmd.Run(); err != nil {
		return nil, childCPU{}, fmt.Errorf("%w: %s", err, stderr.String())
	}
	use := sampleCPU([]*benchstack.Proc{st.minio}).since(cpu0, o.cores)
	return stdout.Bytes(), childCPU{worker: (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds(),
		minio: use.ByProcess["minio"], harness: use.ByProcess[harnessName]}, nil
}
