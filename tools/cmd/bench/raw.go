package main

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"cyberimage/shared/job"
	"cyberimage/tools/internal/benchmodel"
	"cyberimage/tools/internal/benchstack"
)

// rawSet is one measurement of the three parts alone. The run takes one
// before the pipeline and, unless -bracket=false, one after it: on a
// shared machine the two differ, and their spread says how much the
// figures of this run can be trusted.
type rawSet struct {
	When     string           `json:"when"` // "before" or "after" the pipeline
	Model    benchmodel.Model `json:"model"`
	NATS     natsResult       `json:"nats"`
	NATSCPU  cpuUse           `json:"nats_cpu"`
	MinIO    minioResult      `json:"minio"`
	MinIOCPU cpuUse           `json:"minio_cpu"`
	// CPU per operation of each part alone, all processes involved (the
	// server and the harness as its client), in ms.
	NATSCPUMSPerMsg  float64 `json:"nats_cpu_ms_per_msg"`
	MinIOCPUMSPerPut float64 `json:"minio_cpu_ms_per_put"`
	// Loop is the raw loop of the same work with no queue.
	Loop loopResult `json:"raw_loop"`
	// Floor is the same work with every message and object of the design
	// and none of the services' code.
	Floor floorResult `json:"design_floor"`
	// Ladder is the floor part by part (-floor-ladder, before the pipeline
	// only): what each guarantee adds.
	Ladder []floorResult `json:"design_floor_ladder,omitempty"`
	// Asynq is the peer doing the same work, when redis-server is
	// installed; AsynqError says why a run of it failed (the bench goes on).
	Asynq      *asynqResult `json:"asynq,omitempty"`
	AsynqError string       `json:"asynq_error,omitempty"`
}

// measureRaw runs (c), then (a), then (b): the model first because it
// renders the PNG that the MinIO measurement uploads; then the raw loop,
// the floor and the peer, each of the same work.
func measureRaw(ctx context.Context, st *stack, o options, spec job.Spec, when string, say func(string, ...any)) (rawSet, error) {
	set := rawSet{When: when}
	concurrency := o.runners * o.slots
	var err error

	settle := func(part string) {
		if d := st.settle(ctx, 15*time.Second); d > time.Second {
			say("raw %s (%s): waited %s for the machine to settle", part, when, d.Round(100*time.Millisecond))
		}
	}
	settle("model")
	say("raw model (%s): %d inferences of %d×%d, %d step(s), 1 thread", when, o.modelRuns, o.size, o.size, o.steps)
	pngPath := filepath.Join(st.tmp, "bench.png")
	if set.Model, err = rawModel(ctx, st, o, pngPath); err != nil {
		return set, err
	}
	say("raw model (%s): %.0f runs/s, p50 %.3f ms; PNG %d bytes", when, set.Model.RunsPerSec, set.Model.P50MS, set.Model.PNGBytes)
	png, err := os.ReadFile(pngPath)
	if err != nil {
		return set, err
	}

	settle("nats")
	work := sampleWork(spec)
	say("raw nats (%s): %d work messages of %d bytes, %d pullers (fetch 1, ack confirmed)", when, o.rawMsgs, len(work), concurrency)
	cpu0 := sampleCPU([]*benchstack.Proc{st.minio})
	serial := min(o.pacedJobs, 500)
	if set.NATS, err = rawNATS(ctx, st.natsURL(), max(o.replicas, 1), st.natsOptions, work, o.rawMsgs, concurrency, serial, say); err != nil {
		return set, err
	}
	set.NATSCPU = sampleCPU([]*benchstack.Proc{st.minio}).since(cpu0, o.cores)
	set.NATSCPUMSPerMsg = round3(set.NATSCPU.Ours * 1000 / float64(o.rawMsgs+serial))
	say("raw nats (%s): %.0f msgs/s; serial publish→ack p50 %.3f ms", when, set.NATS.MsgsPerSec, set.NATS.Serial.P50)

	settle("minio")
	say("raw minio (%s): %d PUTs of the %d-byte PNG at concurrency %d", when, o.rawPuts, len(png), concurrency)
	cpu0 = sampleCPU([]*benchstack.Proc{st.minio})
	heads := min(o.pacedJobs, 200)
	if set.MinIO, err = rawMinIO(ctx, st.s3, png, spec, when, o.rawPuts, concurrency, heads, say); err != nil {
		return set, err
	}
	set.MinIOCPU = sampleCPU([]*benchstack.Proc{st.minio}).since(cpu0, o.cores)
	// The warm-up PUTs and the HEADs are counted as operations too.
	set.MinIOCPUMSPerPut = round3(set.MinIOCPU.Ours * 1000 / float64(o.rawPuts+warmupPuts(o.rawPuts, concurrency)+heads))
	say("raw minio (%s): %.0f PUT/s, p50 %.3f ms", when, set.MinIO.PutsPerSec, set.MinIO.Put.P50)

	settle("loop")
	say("raw loop (%s): %d jobs of generate, encode, PUT on %d goroutines, no queue", when, o.jobs, concurrency)
	if set.Loop, err = rawLoop(ctx, st, o); err != nil {
		return set, err
	}
	say("raw loop (%s): %.1f jobs/s, %.2f CPU-ms per job", when, set.Loop.JobsPerSec, set.Loop.CPUMSPerJob["total"])

	floorRun := func(upto string) (floorResult, error) {
		settle("floor")
		say("design floor up to %s (%s): %d jobs with the design's messages and objects, no services; then %d one at a time",
			upto, when, o.jobs, min(o.pacedJobs, 300))
		f, err := rawFloor(ctx, st, o, upto)
		if err == nil {
			say("design floor up to %s (%s): %.1f jobs/s, %.2f CPU-ms per job, %.1f msgs per job; p50 overhead %.2f ms", upto, when,
				f.JobsPerSec, f.CPUMSPerJob["total"], f.MsgsPerJob.In+f.MsgsPerJob.Out, f.OverheadP50MS())
		}
		return f, err
	}
	if set.Floor, err = floorRun(o.fullFloor()); err != nil {
		return set, err
	}
	if o.floorLadder && when == "before" {
		for _, part := range benchmodel.FloorParts {
			if part == o.fullFloor() {
				set.Ladder = append(set.Ladder, set.Floor)
				break
			}
			f, err := floorRun(part)
			if err != nil {
				return set, err
			}
			set.Ladder = append(set.Ladder, f)
		}
	}
	if o.redisBin != "" {
		settle("asynq")
		say("asynq (%s): %d jobs enqueued at once into Redis, a server of concurrency %d, the same work per task; then %d one at a time",
			when, o.jobs, concurrency, min(o.pacedJobs, 300))
		if set.Asynq, err = rawAsynq(ctx, st, o, when); err != nil {
			// The peer is a comparison; the pipeline's figures stand without it.
			set.AsynqError = err.Error()
			say("asynq (%s): %v", when, err)
		} else {
			a := set.Asynq
			say("asynq (%s): %.1f jobs/s, %.2f CPU-ms per job (redis %.2f), %.1f Redis commands per job; p50 overhead %.2f ms",
				when, a.JobsPerSec, a.CPUMSPerJob["total"], a.CPUMSPerJob["redis"], a.RedisCommandsPerJob, a.OverheadP50MS())
		}
	}
	return set, nil
}
