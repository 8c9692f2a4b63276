// Package runner wires a GPU runner together: devices, ONNX Runtime, the
// model registry, S3, the worker and the heartbeat, and stops them in
// order (stop taking work, finish or hand back running jobs, then go quiet).
package runner

import (
	"context"
	"fmt"
	"image/png"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"cyberimage/services/gpu-runner/internal/config"
	"cyberimage/services/gpu-runner/internal/gpu"
	"cyberimage/services/gpu-runner/internal/heartbeat"
	"cyberimage/services/gpu-runner/internal/imaging"
	"cyberimage/services/gpu-runner/internal/ort"
	"cyberimage/services/gpu-runner/internal/pipeline"
	"cyberimage/services/gpu-runner/internal/storage"
	"cyberimage/services/gpu-runner/internal/worker"
	"cyberimage/shared/bus"
	"cyberimage/shared/jobstore"
	"cyberimage/shared/metrics"
	"cyberimage/shared/models"
	"cyberimage/shared/objectstore"
)

// Runner is one gpu-runner process.
type Runner struct {
	nvml     *gpu.NVML
	cfg      config.Config
	log      *zap.Logger
	nc       *nats.Conn
	registry *pipeline.Registry
	worker   *worker.Worker
	// metrics is what /metrics serves.
	metrics  *prometheus.Registry
	beat     *heartbeat.Heartbeat
	served   []string
	slotGPUs []*int
	// clock is this runner's wall clock (skewed in tests); drops counts
	// what it threw away from the bus.
	clock func() time.Time
	drops *bus.Drops
	// http serves /livez and /readyz when CYBERIMAGE_RUNNER_ADDR is set;
	// modelsReady is set once every served model loaded at start.
	http        *http.Server
	modelsReady atomic.Bool

	// Reload orders run one at a time, outside the NATS callback.
	reloadMu   sync.Mutex
	lastReload atomic.Value // string: ID of the last reload carried out
	orders     sync.WaitGroup
	ordersMu   sync.Mutex // orders.Add never races Stop's orders.Wait
	stopping   chan struct{}
}

// Start connects to everything and starts taking jobs. It waits for NATS
// and S3 to come up rather than failing: services start in any order.
func Start(ctx context.Context, cfg config.Config, logger *zap.Logger) (*Runner, error) {
	log := logger.With(zap.String("runner", cfg.RunnerID))
	catalog, err := models.Load(cfg.ModelsDir, "")
	if err != nil {
		return nil, err
	}
	served, err := servedModels(cfg.Models, catalog)
	if err != nil {
		return nil, err
	}
	nv := gpu.Open(log.Named("gpu"))
	slots, err := planSlots(cfg, nv, log)
	if err != nil {
		nv.Close()
		return nil, err
	}
	device := gpu.DeviceLabel(slots)
	if err := ort.Init(cfg.ORTLibrary); err != nil {
		nv.Close()
		return nil, fmt.Errorf("onnx runtime %s: %w", cfg.ORTLibrary, err)
	}
	faults := pipeline.Faults{HangPrompt: cfg.FaultHangPrompt, HangStep: cfg.FaultHangStep, Stuck: cfg.FaultHangStuck}
	if faults.Enabled() {
		log.Warn("FAULT INJECTION ON: jobs whose prompt contains the marker will hang (tests and demos only)",
			zap.String("marker", faults.HangPrompt), zap.Int("step", faults.HangStep), zap.Bool("stuck", faults.Stuck))
	}
	registry := pipeline.NewRegistry(pipeline.RegistryParams{
		Catalog: catalog, Options: ort.Options{IntraOpThreads: cfg.IntraOpThreads, InterOpThreads: 1}, Faults: faults,
		MemoryBudget: int64(cfg.ModelMemoryMB) << 20, JobMemoryMB: cfg.JobMemoryMB,
		SlotsPerGPU: cfg.SlotsPerGPU, DeviceMemory: func(index int) int64 {
			for _, g := range nv.GPUs() {
				if g.Index == index {
					return int64(g.MemoryTotal)
				}
			}
			return 0
		},
		Logger: log.Named("models"),
	})
	slotGPUs := make([]*int, len(slots))
	for i, s := range slots {
		slotGPUs[i] = s.GPU
	}

	nc, js, err := bus.Connect(cfg.NATS, "gpu-runner "+cfg.RunnerID, log)
	if err != nil {
		return nil, err
	}
	waiting := func(err error) { log.Warn("waiting for NATS JetStream and provisioning", zap.Error(err)) }
	if err := bus.WaitProvisioned(ctx, js, cfg.Bus, waiting, served...); err != nil {
		nc.Close()
		return nil, err
	}
	store, err := jobstore.Open(ctx, js, jobstore.WithRetention(cfg.Retention))
	if err != nil {
		nc.Close()
		return nil, err
	}
	var images *storage.Images
	var probe func(context.Context) error
	if err := retry(ctx, log, "S3 at "+cfg.S3.Endpoint, func(ctx context.Context) error {
		client, err := objectstore.Connect(ctx, cfg.S3)
		if err != nil {
			return err
		}
		images = storage.NewImages(client, cfg.S3.Bucket)
		probe = func(ctx context.Context) error { return objectstore.Probe(ctx, client, cfg.S3.Bucket) }
		return nil
	}); err != nil {
		nc.Close()
		return nil, err
	}
	clock := time.Now
	if cfg.FaultClockSkew != 0 {
		log.Warn("FAULT INJECTION ON: every time this runner writes is shifted (tests and demos only)", zap.Duration("skew", cfg.FaultClockSkew))
		clock = func() time.Time { return time.Now().Add(cfg.FaultClockSkew) }
	}
	r := &Runner{cfg: cfg, log: log, nc: nc, registry: registry, nvml: nv, served: served, slotGPUs: slotGPUs,
		stopping: make(chan struct{}), clock: clock, drops: bus.NewDrops(log.Named("bus"), time.Minute)}
	r.lastReload.Store("")
	r.metrics = metrics.New("gpu-runner")
	metrics.NATS(r.metrics, nc, r.drops)
	// This process's incarnation: a restart under the same name is told
	// apart from it, and its deliveries taken away at once.
	boot := nuid.Next()
	r.worker = worker.New(worker.Params{Observer: newJobMetrics(r.metrics, served),
		Runner: cfg.RunnerID, Boot: boot, Models: served, Slots: len(slots), SlotGPUs: slotGPUs, NC: nc, JS: js, Store: store, Images: images,
		Generators: registry, Encoder: imaging.NewEncoder(pngLevel(cfg.PNGLevel)), Settings: cfg.Bus, Logger: log, Probe: probe, AbandonTimeout: cfg.AbandonTimeout, AbandonCooloff: cfg.AbandonCooloff,
		Overlap: cfg.Overlap, Prefetch: cfg.Prefetch, UploadPatience: cfg.UploadPatience, MaxBatch: cfg.MaxBatch, BatchWindow: cfg.BatchWindow,
		Clock: clock, Drops: r.drops,
	})
	// Orders come before work: a runner must hear an abandon for any job
	// it may be given.
	if err := r.listenForOrders(); err != nil {
		nc.Close()
		return nil, err
	}
	if err := r.worker.Start(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	host, _ := os.Hostname()
	started := clock().UTC()
	announce := func() bus.Heartbeat {
		gpus := nv.GPUs()
		for i := range gpus {
			for _, s := range slots {
				if s.GPU != nil && *s.GPU == gpus[i].Index {
					gpus[i].InUse = true
				}
			}
		}
		return bus.Heartbeat{Runner: cfg.RunnerID, Host: host, PID: os.Getpid(), Boot: boot, Models: served,
			Slots: len(slots), Busy: r.worker.Busy(), Device: device, GPUs: gpus, Started: started,
			Quarantined: r.worker.Held(), LastReload: r.lastReload.Load().(string), Dropped: r.drops.Total(),
			Reconnects: nc.Stats().Reconnects, Jobs: r.worker.HeldJobs()}
	}
	r.beat = heartbeat.New(heartbeat.Params{NC: nc, Interval: cfg.Heartbeat, Logger: log, Clock: clock, Snapshot: announce})
	r.metrics.MustRegister(stateCollector{runner: cfg.RunnerID, state: announce})
	r.beat.Start()
	// Load every served model now rather than on the first job, so
	// readiness means the runner can run its models.
	go func() {
		if err := r.warm(); err != nil {
			log.Error("loading the served models failed; not ready", zap.Error(err))
			return
		}
		r.modelsReady.Store(true)
	}()
	if cfg.HTTPAddr != "" {
		if err := r.serveHealth(cfg.HTTPAddr, probe); err != nil {
			r.Stop(context.Background())
			return nil, err
		}
	}
	log.Info("runner ready", zap.String("device", device), zap.Int("slots", len(slots)), zap.Strings("models", served),
		zap.Int("intra_op_threads", cfg.IntraOpThreads), zap.Duration("ack_wait", cfg.Bus.AckWait))
	return r, nil
}

// Fatal reports a state the runner cannot recover from in-process.
func (r *Runner) Fatal() <-chan error { return r.worker.Fatal() }

// Stop stops pulling, lets running jobs finish until shortly before ctx's
// deadline (then hands them back), and closes models and connections. An
// error means an inference did not stop by the deadline: its jobs were
// handed back, nothing else was closed (closing a model waits for its
// runs), and the process must exit.
func (r *Runner) Stop(ctx context.Context) error {
	r.ordersMu.Lock()
	close(r.stopping)
	r.ordersMu.Unlock()
	if r.http != nil {
		shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = r.http.Shutdown(shutdown)
		cancel()
	}
	err := r.worker.Stop(ctx)
	r.beat.Stop()
	if err != nil {
		_ = r.nc.Flush()
		return err
	}
	r.orders.Wait()
	if err := r.registry.Close(); err != nil {
		r.log.Warn("close models", zap.Error(err))
	}
	r.nvml.Close()
	_ = r.nc.Drain()
	return nil
}

// servedModels is the runner's share of the catalog: the models listed in
// CYBERIMAGE_MODELS, or all of them.
func servedModels(list string, catalog *models.Catalog) ([]string, error) {
	if strings.TrimSpace(list) == "" {
		return catalog.Names(), nil
	}
	var out []string
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if _, ok := catalog.Manifest(name); !ok {
			return nil, fmt.Errorf("CYBERIMAGE_MODELS names %q, which is not in the models folder (have %v)", name, catalog.Names())
		}
		out = append(out, name)
	}
	return out, nil
}

// planSlots decides where jobs run. GPUs need ORT's CUDA provider
// libraries beside the ORT library; without them the runner says which
// file is missing and uses the CPU, or refuses to start when a GPU is
// required.
func planSlots(cfg config.Config, nv *gpu.NVML, log *zap.Logger) ([]gpu.Slot, error) {
	found := nv.GPUs()
	slots, err := gpu.Plan(cfg.Devices, found, cfg.SlotsPerGPU, cfg.Slots)
	if err != nil {
		return nil, err
	}
	usesGPU := len(slots) > 0 && slots[0].GPU != nil
	if !usesGPU {
		if cfg.RequireGPU {
			return nil, fmt.Errorf("CYBERIMAGE_REQUIRE_GPU=true but no GPU is used (devices %q, %d found)", cfg.Devices, len(found))
		}
		return slots, nil
	}
	if problem := ort.CUDAProviderProblem(cfg.ORTLibrary); problem != nil {
		if cfg.RequireGPU {
			return nil, fmt.Errorf("CYBERIMAGE_REQUIRE_GPU=true but CUDA execution is not possible: %w", problem)
		}
		log.Warn("GPU found but ONNX Runtime's CUDA provider libraries are not beside the ORT library; running on CPU (see README, GPUs)",
			zap.Error(problem))
		return gpu.Plan("cpu", found, cfg.SlotsPerGPU, cfg.Slots)
	}
	return slots, nil
}

func retry(ctx context.Context, log *zap.Logger, what string, try func(context.Context) error) error {
	for {
		attemptCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := try(attemptCtx)
		cancel()
		if err == nil {
			return nil
		}
		log.Warn("waiting for "+what, zap.Error(err))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func pngLevel(name string) png.CompressionLevel {
	switch name {
	case "default":
		return png.DefaultCompression
	case "best":
		return png.BestCompression
	case "none":
		return png.NoCompression
	}
	return png.BestSpeed
}
