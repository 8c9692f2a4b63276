package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"

	"cyberimage/tools/internal/benchmodel"
	"cyberimage/tools/internal/benchstack"
)

// asynqMissing is why the peer is not measured on a machine without Redis.
const asynqMissing = "redis-server not installed: apt-get install redis-server"

// asynqResult is the peer (bench-model -asynq-jobs): asynq and a Redis
// server doing the same work per task as the raw loop and the floor.
type asynqResult struct {
	benchmodel.Asynq
	// CPUMSPerJob by process, as the raw loop's, plus "redis" (the server
	// and the snapshots it forked, from /proc); "worker" is bench-model:
	// the asynq client, the asynq server and the work.
	CPUMSPerJob map[string]float64 `json:"cpu_ms_per_job"`
	// RedisCommandsPerJob is the server's total_commands_processed during
	// the burst, per job: asynq's counterpart of NATS messages.
	RedisCommandsPerJob float64 `json:"redis_commands_per_job"`
	RedisVersion        string  `json:"redis_version"`
}

// redisServer finds redis-server, or says why asynq is not measured.
func redisServer(o options) (bin, notMeasured string) {
	if !o.asynq {
		return "", "turned off with -asynq=false"
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", asynqMissing
	}
	return bin, ""
}

// rawAsynq starts a Redis server of its own (loopback, a free port, a temp
// dir, Redis's default persistence), runs the peer twice in bench-model, all
// jobs at once (throughput, CPU, commands per job) then one at a time
// (latency), each in its own process as the floor's, and stops the server by
// PID.
func rawAsynq(ctx context.Context, st *stack, o options, when string) (*asynqResult, error) {
	procs := benchstack.NewProcs(st.root, st.procs.LogDir())
	defer procs.StopAll()
	dir, err := os.MkdirTemp(st.tmp, "redis-")
	if err != nil {
		return nil, err
	}
	addr, redis, err := benchstack.StartRedis(ctx, procs, "redis-"+when, o.redisBin, dir)
	if err != nil {
		return nil, err
	}
	res := &asynqResult{}
	if info, err := benchstack.RedisInfo(addr, "server"); err == nil {
		res.RedisVersion = info["redis_version"]
	}
	common := []string{"-asynq-workers", strconv.Itoa(o.runners * o.slots), "-asynq-redis", addr}
	cmds0, err := redisCommands(addr)
	if err != nil {
		return nil, err
	}
	redis0 := procCPUWithChildren(redis.PID())
	out, cpu, err := runBenchModel(ctx, st, o, nil, append(common, "-asynq-jobs", strconv.Itoa(o.jobs))...)
	if err != nil {
		return nil, fmt.Errorf("bench-model asynq: %w", err)
	}
	redisCPU := procCPUWithChildren(redis.PID()) - redis0
	cmds1, err := redisCommands(addr)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(out, &res.Asynq); err != nil || res.Jobs == 0 {
		return nil, fmt.Errorf("bench-model asynq output %q: %v", out, err)
	}
	res.CPUMSPerJob = cpu.perJob(res.Jobs)
	res.CPUMSPerJob["redis"] = round3(redisCPU * 1000 / float64(res.Jobs))
	res.CPUMSPerJob["total"] = round3(res.CPUMSPerJob["total"] + res.CPUMSPerJob["redis"])
	// The INFO that read the count is one of them.
	res.RedisCommandsPerJob = round3(float64(cmds1-cmds0-1) / float64(res.Jobs))

	var paced benchmodel.Asynq
	out, _, err = runBenchModel(ctx, st, o, nil, append(common, "-asynq-paced", strconv.Itoa(min(o.pacedJobs, 300)))...)
	if err != nil {
		return nil, fmt.Errorf("bench-model asynq, paced: %w", err)
	}
	if err := json.Unmarshal(out, &paced); err != nil || paced.Paced == 0 {
		return nil, fmt.Errorf("bench-model asynq output %q: %v", out, err)
	}
	res.Paced, res.E2EP50MS, res.InferenceP50MS = paced.Paced, paced.E2EP50MS, paced.InferenceP50MS
	res.EncodeP50MS, res.UploadP50MS = paced.EncodeP50MS, paced.UploadP50MS
	return res, nil
}

// redisCommands is the server's count of commands processed so far.
func redisCommands(addr string) (int64, error) {
	info, err := benchstack.RedisInfo(addr, "stats")
	if err != nil {
		return 0, fmt.Errorf("redis INFO stats: %w", err)
	}
	return strconv.ParseInt(info["total_commands_processed"], 10, 64)
}

// procCPUWithChildren is a process's CPU-seconds, user and system, its
// waited-for children's included: Redis forks for its snapshots.
func procCPUWithChildren(pid int) float64 {
	f := benchstack.ProcStat(pid)
	if len(f) < 15 {
		return 0
	}
	var sum float64
	for _, field := range f[11:15] { // utime, stime, cutime, cstime
		v, _ := strconv.ParseFloat(field, 64)
		sum += v
	}
	return sum / benchstack.ClockTick
}
