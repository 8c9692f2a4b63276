// Package runner is a GPU runner's parts: devices, ONNX Runtime, the
// model registry, S3, the worker, the heartbeat and its orders, each a
// component that the command starts in order and stops in reverse (stop
// taking work, finish or hand back running jobs, then go quiet).
package runner

import (
	"context"
	"fmt"
	"image/png"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nuid"
	"go.uber.org/zap"

	"cyberimage/services/gpu-runner/internal/config"
	"cyberimage/services/gpu-runner/internal/gpu"
	"cyberimage/services/gpu-runner/internal/heartbeat"
	"cyberimage/services/gpu-runner/internal/ort"
	"cyberimage/services/gpu-runner/internal/pipeline"
	"cyberimage/services/gpu-runner/internal/storage"
	"cyberimage/services/gpu-runner/internal/worker"
	"cyberimage/shared/models"
	"cyberimage/shared/service"
)

// Runner is one gpu-runner process.
type Runner struct {
	nvml     *gpu.NVML
	cfg      config.Config
	log      *zap.Logger
	bus      *service.Bus
	registry *pipeline.Registry
	worker   *worker.Worker
	beat     *heartbeat.Heartbeat
	served   []string
	slots    []gpu.Slot
	slotGPUs []*int
	device   string
	// boot is this process's incarnation: a restart under the same name
	// is told apart from it, and its deliveries taken away at once.
	boot string
	// clock is this runner's wall clock (skewed in tests).
	clock func() time.Time
	// images and probe reach S3 once Storage started.
	images *storage.Images
	probe  func(context.Context) error
	// http serves /livez and /readyz when CYBERIMAGE_RUNNER_ADDR is set;
	// modelsReady is set once every served model loaded at start.
	http        *http.Server
	modelsReady atomic.Bool
	// wedged is set when an inference outlived the stop deadline: nothing
	// that would wait for it (the models, the orders) is closed.
	wedged atomic.Bool

	// Reload orders run one at a time, outside the NATS callback; stopCtx
	// ends when the runner stops, refusing new orders and ending a reload's
	// retries.
	reloadMu   sync.Mutex
	lastReload atomic.Value // string: ID of the last reload carried out
	orders     sync.WaitGroup
	ordersMu   sync.Mutex // orders.Add never races the stop's orders.Wait
	stopCtx    context.Context
	refuse     context.CancelFunc
}

// New prepares a runner: its share of the catalog, where its slots run,
// ONNX Runtime and the model registry. Nothing connects until its
// components start, in the order main lists them.
func New(cfg config.Config, logger *zap.Logger) (*Runner, error) {
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
	if err := ort.Init(cfg.ORTLibrary); err != nil {
		nv.Close()
		return nil, fmt.Errorf("onnx runtime %s: %w", cfg.ORTLibrary, err)
	}
	r := &Runner{cfg: cfg, log: log, nvml: nv, served: served, slots: slots, device: gpu.DeviceLabel(slots),
		boot: nuid.Next(), clock: clock(cfg, log), bus: service.NewBus(cfg.Settings, "gpu-runner", "gpu-runner "+cfg.RunnerID, log, served...)}
	r.stopCtx, r.refuse = context.WithCancel(context.Background())
	r.lastReload.Store("")
	r.registry = newRegistry(cfg, catalog, nv, log)
	for _, s := range slots {
		r.slotGPUs = append(r.slotGPUs, s.GPU)
	}
	return r, nil
}

// newRegistry is the registry of the runner's models, with its fault
// injection (tests and demos) and its memory budgets.
func newRegistry(cfg config.Config, catalog *models.Catalog, nv *gpu.NVML, log *zap.Logger) *pipeline.Registry {
	faults := pipeline.Faults{HangPrompt: cfg.FaultHangPrompt, HangStep: cfg.FaultHangStep, Stuck: cfg.FaultHangStuck}
	if faults.Enabled() {
		log.Warn("FAULT INJECTION ON: jobs whose prompt contains the marker will hang (tests and demos only)",
			zap.String("marker", faults.HangPrompt), zap.Int("step", faults.HangStep), zap.Bool("stuck", faults.Stuck))
	}
	return pipeline.NewRegistry(pipeline.RegistryParams{
		Catalog: catalog, Options: ort.Options{IntraOpThreads: cfg.IntraOpThreads, InterOpThreads: 1}, Faults: faults,
		MemoryBudget: int64(cfg.ModelMemoryMB) << 20, JobMemory: cfg.JobMemory,
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
}

// clock is the runner's wall clock, shifted when a test asks for it.
func clock(cfg config.Config, log *zap.Logger) func() time.Time {
	if cfg.FaultClockSkew == 0 {
		return time.Now
	}
	log.Warn("FAULT INJECTION ON: every time this runner writes is shifted (tests and demos only)", zap.Duration("skew", cfg.FaultClockSkew))
	return func() time.Time { return time.Now().Add(cfg.FaultClockSkew) }
}

// Fatal reports a state the runner cannot recover from in-process.
func (r *Runner) Fatal() <-chan error { return r.worker.Fatal() }

// LogReady says the runner is up, with what it runs on.
func (r *Runner) LogReady() {
	r.log.Info("runner ready", zap.String("device", r.device), zap.Int("slots", len(r.slots)), zap.Strings("models", r.served),
		zap.Int("intra_op_threads", r.cfg.IntraOpThreads), zap.Duration("ack_wait", r.cfg.Bus.AckWait))
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
