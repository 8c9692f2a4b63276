package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"cyberimage/shared/natsauth"
)

// floorResult is the design's floor (bench-model -floor-jobs): every NATS
// message and S3 object the pipeline spends on a job, made in one process
// with plain client calls and none of the services' code. Pipeline − floor
// is what the services' code costs; floor − raw loop what the design does.
type floorResult struct {
	Jobs       int     `json:"jobs"`
	Workers    int     `json:"workers"`
	Seconds    float64 `json:"seconds"`
	JobsPerSec float64 `json:"jobs_per_sec"`
	// Upto is the floor's last part (bench-model -floor-upto): "archive"
	// is the whole design.
	Upto string `json:"upto"`
	// CPUMSPerJob by process, as the raw loop's ("worker" is bench-model
	// doing every role).
	CPUMSPerJob map[string]float64 `json:"cpu_ms_per_job"`
	// MsgsPerJob is the NATS server's traffic per job during the floor.
	MsgsPerJob perJobMsgs `json:"msgs_per_job"`
	// The latency run: jobs one at a time.
	Paced          int     `json:"paced"`
	E2EP50MS       float64 `json:"e2e_p50_ms"`
	InferenceP50MS float64 `json:"inference_p50_ms"`
	UploadP50MS    float64 `json:"upload_p50_ms"`
}

// OverheadP50MS is the floor's p50 overhead at one job in flight, by the
// pipeline's formula: e2e − (inference + upload).
func (f floorResult) OverheadP50MS() float64 { return f.E2EP50MS - f.InferenceP50MS - f.UploadP50MS }

// floorParts are the floor's parts in order, each adding one guarantee's
// messages and objects to those before it (bench-model's floor.go).
var floorParts = []string{"queue", "record", "intake", "events", "supervisor", "archive"}

// rawFloor runs the floor up to a part twice: all jobs at once (throughput,
// CPU and messages per job), then jobs one at a time (latency), each in its
// own bench-model so the second's CPU does not count in the first's.
func rawFloor(ctx context.Context, st *stack, o options, upto string) (floorResult, error) {
	var res floorResult
	env := append([]string{"CYBERIMAGE_NATS_URL=" + st.natsURL()}, st.roleEnv(natsauth.Admin)...)
	common := []string{"-floor-workers", strconv.Itoa(o.runners * o.slots), "-floor-replicas", strconv.Itoa(max(o.replicas, 1)),
		"-floor-upto", upto}
	msgs0 := st.natsMsgs()
	out, cpu, err := runBenchModel(ctx, st, o, env, append(common, "-floor-jobs", strconv.Itoa(o.jobs))...)
	if err != nil {
		return res, fmt.Errorf("bench-model floor: %w", err)
	}
	msgs := st.natsMsgs().since(msgs0)
	if err := json.Unmarshal(out, &res); err != nil || res.Jobs == 0 {
		return res, fmt.Errorf("bench-model floor output %q: %v", out, err)
	}
	res.CPUMSPerJob = cpu.perJob(res.Jobs)
	res.MsgsPerJob = msgs.clientMsgs.perJob(res.Jobs)

	var paced floorResult
	out, _, err = runBenchModel(ctx, st, o, env, append(common, "-floor-paced", strconv.Itoa(min(o.pacedJobs, 300)))...)
	if err != nil {
		return res, fmt.Errorf("bench-model floor, paced: %w", err)
	}
	if err := json.Unmarshal(out, &paced); err != nil || paced.Paced == 0 {
		return res, fmt.Errorf("bench-model floor output %q: %v", out, err)
	}
	res.Paced, res.E2EP50MS, res.InferenceP50MS, res.UploadP50MS = paced.Paced, paced.E2EP50MS, paced.InferenceP50MS, paced.UploadP50MS
	return res, nil
}

// fullFloor is the floor of the design as the pipeline runs it: every part,
// or all but the archive when the supervisor's is turned off
// (CYBERIMAGE_ARCHIVE=false in -supervisor-env).
func (o options) fullFloor() string {
	for _, kv := range o.supervisorEnv {
		if k, v, _ := strings.Cut(kv, "="); k == "CYBERIMAGE_ARCHIVE" {
			if on, err := strconv.ParseBool(v); err == nil && !on {
				return "supervisor"
			}
		}
	}
	return "archive"
}
