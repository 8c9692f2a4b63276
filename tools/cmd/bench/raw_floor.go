package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"cyberimage/tools/internal/benchmodel"
)

// floorResult is the design's floor (bench-model -floor-jobs): every NATS
// message and S3 object the pipeline spends on a job, made in one process
// with plain client calls and none of the services' code. Pipeline − floor
// is what the services' code costs; floor − raw loop what the design does.
type floorResult struct {
	benchmodel.Floor
	// CPUMSPerJob by process, as the raw loop's ("worker" is bench-model
	// doing every role).
	CPUMSPerJob map[string]float64 `json:"cpu_ms_per_job"`
	// MsgsPerJob is the NATS server's traffic per job during the floor.
	MsgsPerJob perJobMsgs `json:"msgs_per_job"`
}

// rawFloor runs the floor up to a part twice: all jobs at once (throughput,
// CPU and messages per job), then jobs one at a time (latency), each in its
// own bench-model so the second's CPU does not count in the first's.
func rawFloor(ctx context.Context, st *stack, o options, upto string) (floorResult, error) {
	var res floorResult
	admin, err := st.adminEnv()
	if err != nil {
		return res, err
	}
	env := append([]string{"CYBERIMAGE_NATS_URL=" + st.natsURL()}, admin...)
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
	res.EncodeP50MS = paced.EncodeP50MS
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
