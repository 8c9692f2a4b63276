package main

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"cyberimage/shared/testenv"
	"cyberimage/tools/internal/benchstack"
)

// The peer is only a fair comparison if it does the same work as the raw
// loop and the floor and records each job's outcome: run it against a real
// Redis server and MinIO, and count the PNGs stored and the tasks Redis
// keeps as completed with their results.
func TestAsynqPeerDoesAJobsWorkPerTask(t *testing.T) {
	bin := benchstack.NeedRedis(t)
	procs := benchstack.NewProcs(testenv.RepoRoot(t), t.TempDir())
	t.Cleanup(procs.StopAll)
	addr, _, err := benchstack.StartRedis(context.Background(), procs, "redis", bin, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	store, o := demoWork(t)

	const jobs, paced = 12, 4
	res, err := runAsynq(o, asynqOptions{jobs: jobs, paced: paced, workers: 2, redis: addr, checkInterval: time.Millisecond})
	if err != nil {
		t.Fatalf("asynq peer: %v", err)
	}
	if res.Jobs != jobs || res.Paced != paced || res.Workers != 2 || res.JobsPerSec <= 0 || res.CheckIntervalMS != 1 {
		t.Fatalf("result %+v: want %d jobs, %d paced, 2 workers", res, jobs, paced)
	}
	if res.InferenceP50MS <= 0 || res.EncodeP50MS <= 0 || res.UploadP50MS <= 0 || res.E2EP50MS < res.InferenceP50MS+res.UploadP50MS {
		t.Errorf("paced timings %+v: each stage timed, e2e must hold inference and upload", res)
	}
	if pngs, _ := countObjects(t, store.Client(t), store.Config.Bucket); pngs != jobs+paced {
		t.Errorf("%d PNGs stored, want one per task (%d)", pngs, jobs+paced)
	}

	// Every task is kept as completed with its result: the image it stored.
	inspector := asynq.NewInspector(asynq.RedisClientOpt{Addr: addr})
	defer inspector.Close()
	queues, err := inspector.Queues()
	if err != nil || len(queues) != 1 {
		t.Fatalf("queues %v (%v): want the run's one", queues, err)
	}
	done, err := inspector.ListCompletedTasks(queues[0], asynq.PageSize(100))
	if err != nil {
		t.Fatal(err)
	}
	if len(done) != jobs+paced {
		t.Fatalf("%d tasks completed, want %d", len(done), jobs+paced)
	}
	for _, task := range done {
		var result asynqResult
		if err := json.Unmarshal(task.Result, &result); err != nil || len(result.Images) != 1 || result.Stages.InferenceMS <= 0 {
			t.Fatalf("task %s result %q (%v): want its image and stages", task.ID, task.Result, err)
		}
	}
	t.Logf("%d tasks at %.1f/s; one at a time: e2e p50 %.2f ms, inference %.2f, encode %.2f, upload %.2f",
		res.Jobs, res.JobsPerSec, res.E2EP50MS, res.InferenceP50MS, res.EncodeP50MS, res.UploadP50MS)
}
