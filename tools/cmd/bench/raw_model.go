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

// modelResult is the JSON bench-model prints: the demo model alone, one
// ORT session on one thread, no pipeline.
type modelResult struct {
	Runs        int     `json:"runs"`
	Seconds     float64 `json:"seconds"`
	RunsPerSec  float64 `json:"runs_per_sec"`
	P50MS       float64 `json:"p50_ms"`
	P95MS       float64 `json:"p95_ms"`
	CPUMSPerRun float64 `json:"cpu_ms_per_run"`
	Size        int     `json:"size"`
	Steps       int     `json:"steps"`
	Threads     int     `json:"threads"`
	PNGBytes    int     `json:"png_bytes"`
	EncodeMS    float64 `json:"encode_ms"`
}

// rawModel runs bench-model as a subprocess (the runner's packages are
// internal to its module) and writes the job's PNG to pngPath for the S3
// measurement.
func rawModel(ctx context.Context, st *stack, o options, pngPath string) (modelResult, error) {
	var res modelResult
	cmd := exec.CommandContext(ctx, st.bins["bench-model"],
		"-size", strconv.Itoa(o.size), "-steps", strconv.Itoa(o.steps), "-runs", strconv.Itoa(o.modelRuns),
		"-threads", "1", "-ort-lib", o.ortLib, "-model", filepath.Join(st.root, "infra", "models", "demo", "model.onnx"),
		"-max-time", "60s", "-png-out", pngPath)
	cmd.Dir = st.root
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return res, fmt.Errorf("bench-model: %w: %s", err, stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		return res, fmt.Errorf("bench-model output %q: %w", stdout.String(), err)
	}
	return res, nil
}
