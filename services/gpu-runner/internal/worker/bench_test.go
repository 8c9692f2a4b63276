package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"cyberimage/services/gpu-runner/internal/imaging"
	"cyberimage/services/gpu-runner/internal/ort"
	"cyberimage/services/gpu-runner/internal/pipeline"
	"cyberimage/services/gpu-runner/internal/storage"
	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
	"cyberimage/shared/models"
	"cyberimage/shared/testenv"
)

// These benchmarks run the real worker in-process against a real NATS
// server, a real MinIO and ONNX Runtime, with a saturated queue, and report
// what the runner issue asks for: the duty cycle of the model (the fraction
// of wall time in which it runs) with the median gap between consecutive
// runs, and throughput with and without batching. `make bench-runner` runs
// them; they print figures and assert nothing about speed.

// timedGenerator records when each model run starts and ends.
type timedGenerator struct {
	pipeline.BatchGenerator
	mu    sync.Mutex
	spans [][2]time.Time
}

func (g *timedGenerator) record(start time.Time) {
	g.mu.Lock()
	g.spans = append(g.spans, [2]time.Time{start, time.Now()})
	g.mu.Unlock()
}

func (g *timedGenerator) Generate(ctx context.Context, spec job.Spec, p pipeline.Progress) ([]pipeline.Image, error) {
	defer g.record(time.Now())
	return g.BatchGenerator.Generate(ctx, spec, p)
}

func (g *timedGenerator) GenerateBatch(ctx context.Context, specs []job.Spec, p pipeline.Progress) ([][]pipeline.Image, error) {
	defer g.record(time.Now())
	return g.BatchGenerator.GenerateBatch(ctx, specs, p)
}

// dutyCycle is busy time over the span from the first run's start to the
// last run's end, and the median idle gap between consecutive runs.
func (g *timedGenerator) dutyCycle() (duty float64, medianGap time.Duration, runs int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.spans) < 2 {
		return 0, 0, len(g.spans)
	}
	var busy time.Duration
	gaps := make([]time.Duration, 0, len(g.spans)-1)
	for i, s := range g.spans {
		busy += s[1].Sub(s[0])
		if i > 0 {
			gaps = append(gaps, s[0].Sub(g.spans[i-1][1]))
		}
	}
	sort.Slice(gaps, func(i, j int) bool { return gaps[i] < gaps[j] })
	wall := g.spans[len(g.spans)-1][1].Sub(g.spans[0][0])
	return float64(busy) / float64(wall), gaps[len(gaps)/2], len(g.spans)
}

type fixedGenerators struct{ g pipeline.Generator }

func (f fixedGenerators) Discard(string, *int, pipeline.Generator) bool { return false }

func (f fixedGenerators) For(string, *int) (pipeline.Generator, func(), error) {
	return f.g, func() {}, nil
}

type rig struct {
	js     jetstream.JetStream
	store  *jobstore.Store
	params Params
	gen    *timedGenerator
}

func newRig(b *testing.B) *rig {
	b.Helper()
	srv := testenv.StartNATS(b)
	nc, js := srv.Connect(b)
	m := testenv.StartMinIO(b)
	ctx := context.Background()
	settings := bus.DefaultSettings()
	require.NoError(b, bus.Ensure(ctx, js, settings, "demo"))
	store, err := jobstore.Open(ctx, js)
	require.NoError(b, err)
	require.NoError(b, ort.Init(testenv.ORTLibrary(b)))
	catalog, err := models.Load(testenv.RepoRoot(b)+"/infra/models", "demo")
	require.NoError(b, err)
	manifest, _ := catalog.Manifest("demo")
	cppn, err := pipeline.OpenCPPN(manifest.Path(), ort.Options{IntraOpThreads: 1})
	require.NoError(b, err)
	b.Cleanup(func() { _ = cppn.Close() })
	gen := &timedGenerator{BatchGenerator: cppn}
	return &rig{js: js, store: store, gen: gen, params: Params{
		Runner: "bench", Slots: 1, Models: []string{"demo"}, NC: nc, JS: js, Store: store,
		Images: storage.NewImages(m.Client(b), m.Config.Bucket), Generators: fixedGenerators{gen},
		Encoder: imaging.NewEncoder(png.BestSpeed), Settings: settings, Logger: zap.NewNop(),
		Overlap: true, Prefetch: true, MaxBatch: 1, BatchWindow: 5 * time.Millisecond,
	}}
}

// queue records and queues n jobs, as ingest would.
func (r *rig) queue(b *testing.B, n, side int) {
	b.Helper()
	ctx := context.Background()
	for i := range n {
		id := fmt.Sprintf("BENCH%05d", i)
		spec := job.Spec{Prompt: fmt.Sprintf("bench %d", i), Model: "demo", Width: side, Height: side, Steps: 1, Seed: int64(i), NumImages: 1}
		_, err := r.store.Create(ctx, job.Record{JobID: id, Status: job.StatusQueued, Spec: spec, CreatedAt: time.Now().UTC()})
		require.NoError(b, err)
		data, _ := json.Marshal(bus.Work{JobID: id, Spec: spec})
		_, err = r.js.Publish(ctx, bus.JobSubject("demo", id), data, jetstream.WithMsgID(id))
		require.NoError(b, err)
	}
}

// drain runs the worker until n jobs completed and returns the wall time.
func (r *rig) drain(b *testing.B, n int) time.Duration {
	b.Helper()
	w := New(r.params)
	start := time.Now()
	require.NoError(b, w.Start(context.Background()))
	deadline := time.Now().Add(5 * time.Minute)
	poll := time.NewTicker(5 * time.Millisecond) // how soon after the last job the wall time stops
	defer poll.Stop()
	for time.Now().Before(deadline) {
		if done, failed := w.Stats(); done+failed >= int64(n) {
			break
		}
		<-poll.C
	}
	wall := time.Since(start)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w.Stop(ctx)
	done, failed := w.Stats()
	require.EqualValues(b, n, done, "completed (failed %d)", failed)
	return wall
}

// BenchmarkDutyCycle: a saturated queue of 384×384 one-step jobs (about
// 50 ms of model time each on this CPU) through one slot. Target ≥ 98%.
func BenchmarkDutyCycle(b *testing.B) {
	for _, mode := range []struct{ overlap, prefetch bool }{{true, true}, {true, false}, {false, false}} {
		overlap := mode.overlap
		b.Run(fmt.Sprintf("overlap=%v,prefetch=%v", mode.overlap, mode.prefetch), func(b *testing.B) {
			const jobs = 60
			r := newRig(b)
			r.params.Overlap = mode.overlap
			r.params.Prefetch = mode.prefetch
			r.queue(b, jobs, 384)
			b.ResetTimer()
			wall := r.drain(b, jobs)
			duty, gap, runs := r.gen.dutyCycle()
			b.ReportMetric(100*duty, "duty_%")
			b.ReportMetric(float64(gap.Microseconds())/1000, "median_gap_ms")
			b.ReportMetric(float64(jobs)/wall.Seconds(), "jobs/s")
			b.Logf("overlap=%v prefetch=%v: %d runs, duty cycle %.1f%%, median gap %s, %.1f jobs/s", overlap, mode.prefetch, runs, 100*duty, gap, float64(jobs)/wall.Seconds())
		})
	}
}

// BenchmarkBatching: throughput of small jobs (64×64, where per-run
// overhead dominates) at batch 1 against CYBERIMAGE_MAX_BATCH 8, same run.
func BenchmarkBatching(b *testing.B) {
	for _, batch := range []int{1, 8} {
		b.Run(fmt.Sprintf("max_batch=%d", batch), func(b *testing.B) {
			const jobs = 400
			r := newRig(b)
			r.params.MaxBatch = batch
			r.queue(b, jobs, 64)
			b.ResetTimer()
			wall := r.drain(b, jobs)
			_, _, runs := r.gen.dutyCycle()
			b.ReportMetric(float64(jobs)/wall.Seconds(), "jobs/s")
			b.ReportMetric(float64(jobs)/float64(runs), "jobs/run")
			b.Logf("max_batch=%d: %d jobs in %d model runs, %.1f jobs/s", batch, jobs, runs, float64(jobs)/wall.Seconds())
		})
	}
}
