package main

import (
	"context"
	"fmt"
	"image/png"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"cyberimage/services/gpu-runner/internal/imaging"
	"cyberimage/services/gpu-runner/internal/ort"
	"cyberimage/services/gpu-runner/internal/pipeline"
	"cyberimage/services/gpu-runner/internal/storage"
	"cyberimage/shared/job"
	"cyberimage/shared/objectstore"
)

// loopResult is the raw loop: what the pipeline's runners do for each job
// (generate, encode the PNG, PUT it with its metadata), in plain goroutines
// with no queue around them. The harness divides the pipeline by it.
type loopResult struct {
	Jobs       int     `json:"jobs"`
	Workers    int     `json:"workers"`
	Seconds    float64 `json:"seconds"`
	JobsPerSec float64 `json:"jobs_per_sec"`
	// CPUMSPerJob is this process's CPU per job (model, encode, S3 client);
	// MinIO's share the harness measures itself.
	CPUMSPerJob float64 `json:"cpu_ms_per_job"`
}

// runLoop does jobs jobs on workers goroutines, each with its own session
// on one thread, as runner slots have; S3 settings come from the
// CYBERIMAGE_S3_* environment, as the runner's do.
func runLoop(o options, jobs, workers int) (loopResult, error) {
	res := loopResult{Jobs: jobs, Workers: workers}
	if err := ort.Init(o.ortLib); err != nil {
		return res, err
	}
	cfg := s3ConfigFromEnv()
	ctx := context.Background()
	client, err := objectstore.Connect(ctx, cfg)
	if err != nil {
		return res, err
	}
	images := storage.NewImages(client, cfg.Bucket)
	gens := make([]*pipeline.CPPN, workers)
	for i := range gens {
		if gens[i], err = pipeline.OpenCPPN(o.model, ort.Options{IntraOpThreads: 1}); err != nil {
			return res, err
		}
		defer gens[i].Close()
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	cpu0 := cpuTime()
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			enc := imaging.NewEncoder(png.BestSpeed)
			for {
				i := int(next.Add(1)) - 1
				if i >= jobs {
					return
				}
				id := fmt.Sprintf("rawloop-%d-%d", start.UnixNano(), i)
				spec := job.Spec{Prompt: "benchmark: a neon koi pond at dusk", Model: "demo", Width: o.size, Height: o.size,
					Steps: o.steps, Seed: int64(i), NumImages: 1}
				out, err := gens[w].Generate(ctx, spec, nil)
				if err == nil {
					var data []byte
					if data, err = enc.EncodeRGB(out[0].Width, out[0].Height, out[0].RGB); err == nil {
						_, err = images.Put(ctx, id, 0, spec, data)
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	select {
	case err := <-errs:
		return res, err
	default:
	}
	res.Seconds = elapsed.Seconds()
	res.JobsPerSec = float64(jobs) / elapsed.Seconds()
	res.CPUMSPerJob = job.Millis(cpuTime()-cpu0) / float64(jobs)
	return res, nil
}

// s3ConfigFromEnv is the store the harness passes in CYBERIMAGE_S3_*, as
// the runner reads it.
func s3ConfigFromEnv() objectstore.Config {
	return objectstore.Config{Endpoint: os.Getenv("CYBERIMAGE_S3_ENDPOINT"), AccessKey: os.Getenv("CYBERIMAGE_S3_ACCESS_KEY"),
		SecretKey: os.Getenv("CYBERIMAGE_S3_SECRET_KEY"), Bucket: os.Getenv("CYBERIMAGE_S3_BUCKET")}
}
