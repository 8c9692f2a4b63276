package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/hibiken/asynq"

	"cyberimage/services/gpu-runner/benchwork"
	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
	"cyberimage/tools/internal/benchmodel"
)

// The peer: the same work per job through asynq and a Redis server (the
// harness starts it; -asynq-redis), as an asynq user would write it. A
// client enqueues each job's work message (the pipeline's JSON) as a task
// with a unique id (asynq's deduplication) and a retention (the task, its
// result and its completion kept, as the pipeline keeps a job's record); a
// server with runners × slots concurrency runs each task: generate, encode,
// PUT with metadata, the image key written as the task's result. Client and
// server share this process, as the floor's roles do.

const asynqTaskType = "cyberimage:generate"

type asynqOptions struct {
	jobs, paced, workers int
	redis                string
	// checkInterval is the server's TaskCheckInterval; asynq's default
	// (1 s) would make the latency at one in flight its polling period.
	checkInterval time.Duration
}

// asynqPeer is the server's handler and what the harness side of this
// process reads from it.
type asynqPeer struct {
	slots  chan *benchwork.Slot // one per concurrent handler
	images *benchwork.Images
	ended  chan struct{}      // one per task whose handler returned nil
	failed chan error         // the first handler error
	mu     sync.Mutex         // guards the timings
	stages [3][]time.Duration // inference, encode, upload
}

// asynqResult is what a handler writes as its task's result: what the
// pipeline's record keeps of a completed job.
type asynqResult struct {
	Images []string   `json:"images"`
	Stages job.Stages `json:"stages"`
}

func runAsynq(o options, ao asynqOptions) (benchmodel.Asynq, error) {
	res := benchmodel.Asynq{Version: asynqVersion(), Workers: ao.workers, CheckIntervalMS: job.Millis(ao.checkInterval)}
	if ao.redis == "" || ao.workers < 1 || ao.checkInterval <= 0 {
		return res, errors.New("-asynq-redis is required; -asynq-workers at least 1; -asynq-check-interval positive")
	}
	w, err := openWork(o, ao.workers)
	if err != nil {
		return res, err
	}
	defer w.close()
	ctx := context.Background()
	peer := &asynqPeer{slots: make(chan *benchwork.Slot, len(w.slots)), images: w.images,
		ended: make(chan struct{}, ao.jobs+ao.paced), failed: make(chan error, 1)}
	for _, s := range w.slots {
		peer.slots <- s
	}

	// A queue of this run's own: the burst and the paced run share the
	// Redis server, and the completed count is per queue.
	queue := "bench-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	redisOpt := asynq.RedisClientOpt{Addr: ao.redis}
	client := asynq.NewClient(redisOpt)
	defer client.Close()
	inspector := asynq.NewInspector(redisOpt)
	defer inspector.Close()
	srv := asynq.NewServer(redisOpt, asynq.Config{Concurrency: ao.workers, Queues: map[string]int{queue: 1},
		TaskCheckInterval: ao.checkInterval, LogLevel: asynq.WarnLevel})
	mux := asynq.NewServeMux()
	mux.HandleFunc(asynqTaskType, peer.handle)
	if err := srv.Start(mux); err != nil {
		return res, fmt.Errorf("asynq server: %w", err)
	}
	defer srv.Shutdown()

	enqueue := func(tag string, i int) error {
		spec := job.Spec{Prompt: benchmodel.Prompt, Model: "demo", Width: o.size, Height: o.size,
			Steps: o.steps, Guidance: 7.5, Seed: int64(i), NumImages: 1, RequestID: tag + strconv.Itoa(i)}
		id := job.NewID(time.Now(), spec.RequestID)
		work, _ := json.Marshal(bus.Work{JobID: id, Spec: spec, CreatedAt: time.Now().UTC()})
		_, err := client.EnqueueContext(ctx, asynq.NewTask(asynqTaskType, work), asynq.Queue(queue), asynq.TaskID(id),
			asynq.Retention(jobstore.DefaultRetention().Record))
		return err
	}
	if ao.jobs > 0 {
		start := time.Now()
		for i := range ao.jobs {
			if err := enqueue("b", i); err != nil {
				return res, fmt.Errorf("enqueue: %w", err)
			}
		}
		if err := peer.wait(ao.jobs, 5*time.Minute); err != nil {
			return res, err
		}
		// The handlers are done; the server then moves each task to
		// completed. The run ends when Redis holds every one.
		if err := waitCompleted(inspector, queue, ao.jobs, 30*time.Second); err != nil {
			return res, err
		}
		res.Jobs, res.Seconds = ao.jobs, time.Since(start).Seconds()
		res.JobsPerSec = float64(ao.jobs) / res.Seconds
	}
	if ao.paced > 0 {
		peer.resetStages()
		e2e := make([]time.Duration, 0, ao.paced)
		for i := range ao.paced {
			t0 := time.Now()
			if err := enqueue("p", i); err != nil {
				return res, fmt.Errorf("enqueue: %w", err)
			}
			if err := peer.wait(1, 30*time.Second); err != nil {
				return res, err
			}
			e2e = append(e2e, time.Since(t0))
		}
		res.Paced, res.E2EP50MS = ao.paced, p50(e2e)
		peer.mu.Lock()
		res.InferenceP50MS, res.EncodeP50MS, res.UploadP50MS = p50(peer.stages[0]), p50(peer.stages[1]), p50(peer.stages[2])
		peer.mu.Unlock()
	}
	return res, nil
}

// handle runs one task: the runner's work, then its result on the task.
func (p *asynqPeer) handle(ctx context.Context, t *asynq.Task) error {
	err := p.run(ctx, t)
	if err != nil {
		select {
		case p.failed <- err:
		default:
		}
		return err
	}
	p.ended <- struct{}{}
	return nil
}

func (p *asynqPeer) run(ctx context.Context, t *asynq.Task) error {
	var work bus.Work
	if err := json.Unmarshal(t.Payload(), &work); err != nil {
		return fmt.Errorf("decode task: %v: %w", err, asynq.SkipRetry)
	}
	slot := <-p.slots
	defer func() { p.slots <- slot }()
	t0 := time.Now()
	img, err := slot.Generate(ctx, work.Spec)
	if err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	t1 := time.Now()
	data, err := slot.Encode(img)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	t2 := time.Now()
	key, err := p.images.Put(ctx, work.JobID, 0, work.Spec, data)
	if err != nil {
		return fmt.Errorf("put: %w", err)
	}
	t3 := time.Now()
	result, _ := json.Marshal(asynqResult{Images: []string{key}, Stages: job.Stages{InferenceMS: job.Millis(t1.Sub(t0)),
		EncodeMS: job.Millis(t2.Sub(t1)), UploadMS: job.Millis(t3.Sub(t2)), BatchSize: 1}})
	if _, err := t.ResultWriter().Write(result); err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	p.mu.Lock()
	p.stages[0] = append(p.stages[0], t1.Sub(t0))
	p.stages[1] = append(p.stages[1], t2.Sub(t1))
	p.stages[2] = append(p.stages[2], t3.Sub(t2))
	p.mu.Unlock()
	return nil
}

func (p *asynqPeer) resetStages() {
	p.mu.Lock()
	p.stages = [3][]time.Duration{}
	p.mu.Unlock()
}

// wait takes n tasks' ends, or fails on a handler's error or after limit.
func (p *asynqPeer) wait(n int, limit time.Duration) error {
	deadline := time.After(limit)
	for range n {
		select {
		case <-p.ended:
		case err := <-p.failed:
			return fmt.Errorf("asynq handler: %w", err)
		case <-deadline:
			return fmt.Errorf("asynq: tasks not done after %s", limit)
		}
	}
	return nil
}

// waitCompleted polls the queue until n of its tasks are completed: only
// after the handlers are done, so the polling costs nothing meanwhile.
func waitCompleted(inspector *asynq.Inspector, queue string, n int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		info, err := inspector.GetQueueInfo(queue)
		if err != nil {
			return fmt.Errorf("asynq queue info: %w", err)
		}
		if info.Completed >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("asynq: %d of %d tasks completed after %s", info.Completed, n, limit)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// asynqVersion is the asynq module this binary was built with.
func asynqVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == "github.com/hibiken/asynq" {
				return dep.Version
			}
		}
	}
	return "unknown"
}
