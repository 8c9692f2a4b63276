package jobstore_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
	"cyberimage/shared/testenv"
)

// benchStore opens the job bucket on an in-process JetStream server and
// stores one record shaped like a running job's.
func benchStore(b *testing.B) (*jobstore.Store, string) {
	b.Helper()
	srv := testenv.StartNATS(b)
	_, js := srv.Connect(b)
	ctx := context.Background()
	if err := bus.Ensure(ctx, js, bus.DefaultSettings()); err != nil {
		b.Fatal(err)
	}
	store, err := jobstore.Open(ctx, js)
	if err != nil {
		b.Fatal(err)
	}
	id := job.IDForRequestID("bench")
	now := time.Now().UTC()
	rec := job.Record{
		JobID: id, Status: job.StatusProcessing, Attempts: 1, Runner: "runner-1", CreatedAt: now, StartedAt: &now,
		Spec: job.Spec{Prompt: "benchmark: a neon koi pond at dusk", Model: "demo", Width: 64, Height: 64, Steps: 1,
			Seed: 42, NumImages: 1, RequestID: "bench"},
		Delivery: &job.Delivery{StreamSeq: 1, Delivered: 1, Runner: "runner-1", StartedAt: now,
			AckSubject: "$JS.ACK.CYBERIMAGE_JOBS.gpu-runners.1.1.1.1700000000000000000.0"},
	}
	if _, err := store.Create(ctx, rec); err != nil {
		b.Fatal(err)
	}
	return store, id
}

// BenchmarkGet is one record read: the first half of every Update.
func BenchmarkGet(b *testing.B) {
	store, id := benchStore(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := store.Get(ctx, id); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUpdate is the compare-and-set a runner does twice per job
// (claim and complete): read, mutate, write at the read revision.
func BenchmarkUpdate(b *testing.B) {
	store, id := benchStore(b)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if _, err := store.Update(ctx, id, func(r *job.Record) error {
			r.Stages = job.Stages{QueueWaitMS: float64(i), InferenceMS: 1.5, EncodeMS: 0.4, UploadMS: 2.5}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUpdateContended has several goroutines update the same record
// back to back, as a runner and the supervisor racing on one job would,
// only without pause. Conflicts are retried: tries/op says how many
// read-mutate-write rounds each update took, gave_up/op how many updates
// ran out of retries (Update allows 16, with no backoff between them).
func BenchmarkUpdateContended(b *testing.B) {
	for _, writers := range []int{2, 4, 8} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			store, id := benchStore(b)
			ctx := context.Background()
			var tries, gaveUp atomic.Int64
			// RunParallel starts parallelism × GOMAXPROCS goroutines.
			b.SetParallelism(max(1, writers/runtime.GOMAXPROCS(0)))
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					_, err := store.Update(ctx, id, func(r *job.Record) error {
						tries.Add(1)
						r.Stages.QueueWaitMS++
						return nil
					})
					switch {
					case err == nil:
					case strings.Contains(err.Error(), "too many concurrent writers"):
						gaveUp.Add(1)
					default:
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(tries.Load())/float64(b.N), "tries/op")
			b.ReportMetric(float64(gaveUp.Load())/float64(b.N), "gave_up/op")
		})
	}
}
