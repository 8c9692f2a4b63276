// Command bench-model measures the work of a job without the services:
// the demo model alone (how many inferences of one job, spec.Steps ORT runs
// each, a single session runs per second at a given size), the raw loop of
// a job's work with no queue (-loop-jobs), the design's floor
// (-floor-jobs, -floor-paced: floor.go), and the same work through asynq and
// Redis (-asynq-jobs, -asynq-paced: asynq.go). The benchmark harness
// (tools/cmd/bench) runs it as a subprocess, so its CPU is counted apart
// from the harness's. It prints one JSON object (tools/internal/benchmodel);
// with -png-out it also writes the PNG a runner would store for that job,
// so the harness can measure S3 with real bytes. The model, the encoder and
// the PUT are the runner's own code, through services/gpu-runner/benchwork.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"syscall"
	"time"

	"cyberimage/services/gpu-runner/benchwork"
	"cyberimage/shared/job"
	"cyberimage/tools/internal/benchmodel"
)

type options struct {
	size, runs, steps, threads, warmup int
	maxTime                            time.Duration
	ortLib, model, pngOut              string
}

func main() {
	var o options
	flag.IntVar(&o.size, "size", 64, "width and height in pixels (64-2048, multiple of 8)")
	flag.IntVar(&o.runs, "runs", 2000, "timed inferences (each is -steps ORT runs)")
	flag.IntVar(&o.steps, "steps", 1, "steps per inference, as in a job spec")
	flag.IntVar(&o.threads, "threads", 1, "ORT intra-op threads (the runner's default is 1)")
	flag.IntVar(&o.warmup, "warmup", 20, "untimed inferences first")
	flag.DurationVar(&o.maxTime, "max-time", 60*time.Second, "stop timing after this long even if -runs are not done")
	flag.StringVar(&o.ortLib, "ort-lib", envOr("CYBERIMAGE_ORT_LIB", ".tools/ort/libonnxruntime.so.1"), "ONNX Runtime shared library [CYBERIMAGE_ORT_LIB]")
	flag.StringVar(&o.model, "model", "infra/models/demo/model.onnx", "demo model file")
	flag.StringVar(&o.pngOut, "png-out", "", "also write the job's PNG (runner's default compression) here")
	loopJobs := flag.Int("loop-jobs", 0, "instead: the raw loop of this many jobs (generate, encode, PUT to CYBERIMAGE_S3_*), no queue")
	loopWorkers := flag.Int("loop-workers", 1, "goroutines of the raw loop, each with its own session (runners × slots)")
	var fo floorOptions
	flag.IntVar(&fo.jobs, "floor-jobs", 0, "instead: the design's floor, this many jobs at once (every NATS message and S3 object of a job, no services; CYBERIMAGE_NATS_* and CYBERIMAGE_S3_*)")
	flag.IntVar(&fo.paced, "floor-paced", 0, "the design's floor: also (or only) this many jobs one at a time, for its latency")
	flag.IntVar(&fo.workers, "floor-workers", 1, "runner slots of the floor, each with its own session (runners × slots)")
	flag.IntVar(&fo.replicas, "floor-replicas", 1, "replicas of the floor's streams and bucket")
	var ao asynqOptions
	flag.IntVar(&ao.jobs, "asynq-jobs", 0, "instead: the peer, this many jobs enqueued at once into asynq on -asynq-redis, the same work per task")
	flag.IntVar(&ao.paced, "asynq-paced", 0, "the peer: also (or only) this many tasks one at a time, for its latency")
	flag.IntVar(&ao.workers, "asynq-workers", 1, "the asynq server's concurrency, each handler with its own session (runners × slots)")
	flag.StringVar(&ao.redis, "asynq-redis", "", "host:port of the Redis server asynq uses")
	flag.DurationVar(&ao.checkInterval, "asynq-check-interval", time.Millisecond, "the asynq server's TaskCheckInterval: its poll of an empty queue (asynq's default is 1s)")
	upto := flag.String("floor-upto", "archive", "the floor's parts: queue, record, intake, events, supervisor, archive (each includes those before it; archive is the whole design)")
	flag.Parse()
	switch {
	case fo.jobs > 0 || fo.paced > 0:
		var err error
		if fo.upto, err = parseFloorPart(*upto); err != nil {
			fmt.Fprintln(os.Stderr, "bench-model:", err)
			os.Exit(2)
		}
		printResult(runFloor(o, fo))
	case ao.jobs > 0 || ao.paced > 0:
		printResult(runAsynq(o, ao))
	case *loopJobs > 0:
		printResult(runLoop(o, *loopJobs, *loopWorkers))
	default:
		printResult(run(o))
	}
}

// printResult writes a measurement as the one JSON line the harness reads,
// or the error and a failed exit.
func printResult[R any](res R, err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-model:", err)
		os.Exit(1)
	}
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
}

func run(o options) (benchmodel.Model, error) {
	if o.size < 8 || o.size%8 != 0 || o.runs < 1 || o.steps < 1 || o.threads < 1 {
		return benchmodel.Model{}, errors.New("-size must be a positive multiple of 8; -runs, -steps and -threads at least 1")
	}
	if err := benchwork.Init(o.ortLib); err != nil {
		return benchmodel.Model{}, err
	}
	slot, err := benchwork.OpenSlot(o.model, o.threads)
	if err != nil {
		return benchmodel.Model{}, err
	}
	defer slot.Close()
	// The spec ingest would produce for the harness's requests.
	spec := job.Spec{Prompt: benchmodel.Prompt, Model: "demo", Width: o.size, Height: o.size,
		Steps: o.steps, Seed: 42, NumImages: 1}
	ctx := context.Background()
	res := benchmodel.Model{Size: o.size, Steps: o.steps, Threads: o.threads}
	for range o.warmup {
		if _, err := slot.Generate(ctx, spec); err != nil {
			return res, fmt.Errorf("warm-up: %w", err)
		}
	}
	lat := make([]time.Duration, 0, o.runs)
	cpu0 := cpuTime()
	start := time.Now()
	for len(lat) < o.runs && time.Since(start) < o.maxTime {
		t0 := time.Now()
		if _, err := slot.Generate(ctx, spec); err != nil {
			return res, fmt.Errorf("generate: %w", err)
		}
		lat = append(lat, time.Since(t0))
	}
	elapsed := time.Since(start)
	res.CPUMSPerRun = job.Millis(cpuTime()-cpu0) / float64(len(lat))
	slices.Sort(lat)
	res.Runs = len(lat)
	res.Seconds = elapsed.Seconds()
	res.RunsPerSec = float64(len(lat)) / elapsed.Seconds()
	res.P50MS = job.Millis(lat[len(lat)/2])
	res.P95MS = job.Millis(lat[len(lat)*95/100])
	if o.pngOut != "" {
		if err := writePNG(ctx, slot, spec, o.pngOut, &res); err != nil {
			return res, err
		}
	}
	return res, nil
}

// writePNG renders the job once more and encodes it as the runner does by
// default (CYBERIMAGE_PNG_COMPRESSION=speed).
func writePNG(ctx context.Context, slot *benchwork.Slot, spec job.Spec, path string, res *benchmodel.Model) error {
	img, err := slot.Generate(ctx, spec)
	if err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	t0 := time.Now()
	data, err := slot.Encode(img)
	if err != nil {
		return err
	}
	res.EncodeMS = job.Millis(time.Since(t0))
	res.PNGBytes = len(data)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("write png: %w", err)
	}
	return nil
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
