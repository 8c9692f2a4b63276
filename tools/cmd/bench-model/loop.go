package main

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"

	"cyberimage/services/gpu-runner/benchwork"
	"cyberimage/shared/job"
	"cyberimage/shared/objectstore"
	"cyberimage/tools/internal/benchmodel"
)

// loopResult is the raw loop as printed: the bench reads benchmodel.Loop
// and measures the CPU by process itself.
type loopResult struct {
	benchmodel.Loop
	// CPUMSPerJob is this process's CPU per job (model, encode, S3 client);
	// MinIO's share the harness measures itself.
	CPUMSPerJob float64 `json:"cpu_ms_per_job"`
}

// runLoop does jobs jobs on workers goroutines, each with its own session
// on one thread, as runner slots have; S3 settings come from the
// CYBERIMAGE_S3_* environment, as the runner's do.
func runLoop(o options, jobs, workers int) (loopResult, error) {
	res := loopResult{Loop: benchmodel.Loop{Jobs: jobs, Workers: workers}}
	w, err := openWork(o, workers)
	if err != nil {
		return res, err
	}
	defer w.close()
	ctx := context.Background()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	cpu0 := cpuTime()
	start := time.Now()
	for _, slot := range w.slots {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= jobs {
					return
				}
				id := fmt.Sprintf("rawloop-%d-%d", start.UnixNano(), i)
				spec := job.Spec{Prompt: benchmodel.Prompt, Model: "demo", Width: o.size, Height: o.size,
					Steps: o.steps, Seed: int64(i), NumImages: 1}
				img, err := slot.Generate(ctx, spec)
				if err == nil {
					var data []byte
					if data, err = slot.Encode(img); err == nil {
						_, err = w.images.Put(ctx, id, 0, spec, data)
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

// work is what every mode runs jobs with: ONNX Runtime loaded, the store
// the harness passes in CYBERIMAGE_S3_* (read as the runner reads it) and
// one runner slot (a session on one thread, an encoder) per worker.
type work struct {
	s3     *minio.Client
	bucket string
	images *benchwork.Images
	slots  []*benchwork.Slot
}

func openWork(o options, workers int) (work, error) {
	if err := benchwork.Init(o.ortLib); err != nil {
		return work{}, err
	}
	w := work{bucket: os.Getenv("CYBERIMAGE_S3_BUCKET")}
	var err error
	w.s3, err = objectstore.Connect(context.Background(), objectstore.Config{Endpoint: os.Getenv("CYBERIMAGE_S3_ENDPOINT"),
		AccessKey: os.Getenv("CYBERIMAGE_S3_ACCESS_KEY"), SecretKey: os.Getenv("CYBERIMAGE_S3_SECRET_KEY"), Bucket: w.bucket})
	if err != nil {
		return work{}, err
	}
	w.images = benchwork.NewImages(w.s3, w.bucket)
	for range workers {
		slot, err := benchwork.OpenSlot(o.model, 1)
		if err != nil {
			w.close()
			return work{}, err
		}
		w.slots = append(w.slots, slot)
	}
	return w, nil
}

// close closes the slots; the S3 client holds nothing to close.
func (w work) close() {
	for _, s := range w.slots {
		_ = s.Close()
	}
}
