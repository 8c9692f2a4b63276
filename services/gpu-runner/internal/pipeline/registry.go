package pipeline

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"go.uber.org/zap"

	"cyberimage/services/gpu-runner/internal/ort"
	"cyberimage/shared/models"
)

// Opener loads a model's generator with the given ORT options.
type Opener func(m models.Manifest, opts ort.Options) (Generator, error)

// OpenModel opens a model by its manifest's pipeline kind.
func OpenModel(m models.Manifest, opts ort.Options) (Generator, error) {
	switch m.Pipeline {
	case "cppn":
		return OpenCPPN(m.Path(), opts)
	case "stable-diffusion":
		return OpenStableDiffusion(m.Dir, opts)
	}
	return nil, fmt.Errorf("pipeline %q of model %q: %w", m.Pipeline, m.Name, ErrUnsupported)
}

// RegistryParams configure a Registry.
type RegistryParams struct {
	Catalog *models.Catalog
	// Options are the ORT settings; CUDADevice is set per device.
	Options ort.Options
	Faults  Faults
	// MemoryBudget bounds, per device, the bytes of model files kept
	// loaded; the least recently used models not in use are evicted to make
	// room. 0 means no limit.
	MemoryBudget int64
	// JobMemory is the memory one job may use (models.JobMemory.On sizes
	// it for each device).
	JobMemory models.JobMemory
	// DeviceMemory is a GPU's total memory in bytes (0: unknown), and
	// SlotsPerGPU how many jobs share one, for the default job budget.
	DeviceMemory func(gpu int) int64
	SlotsPerGPU  int
	// Open loads a model; OpenModel when nil (tests pass a fake).
	Open   Opener
	Logger *zap.Logger
}

// Registry keeps one generator per model and device (the CPU, or each
// GPU), loaded on first use and reused: loading is the slow part, and the
// original app's reload on every model swap is what we avoid. Slots on the
// same device share a session (ORT sessions take concurrent runs), so a
// model's weights sit once in each GPU's memory.
type Registry struct {
	p RegistryParams

	mu     sync.Mutex
	open   map[regKey]*regEntry
	clock  uint64 // logical time for LRU
	relief *relief
}

type regKey struct {
	model  string
	device int // -1: CPU
}

type regEntry struct {
	gen      Generator
	size     int64
	refs     int
	lastUsed uint64
}

// NewRegistry makes a registry.
func NewRegistry(p RegistryParams) *Registry {
	if p.Open == nil {
		p.Open = OpenModel
	}
	if p.Logger == nil {
		p.Logger = zap.NewNop()
	}
	return &Registry{p: p, open: map[regKey]*regEntry{}, relief: newRelief(nil, reliefAfter)}
}

// For returns a model's generator on a device (nil: the CPU), loading it if
// needed, and a release func the caller calls once its run is over: a model
// in use is never evicted. A model that fails to load returns the error
// every time it is asked for, so its jobs fail with the reason and the
// runner carries on.
func (r *Registry) For(model string, gpu *int) (Generator, func(), error) {
	k := regKey{model: model, device: -1}
	if gpu != nil {
		k.device = *gpu
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.clock++
	if e, ok := r.open[k]; ok {
		return r.lease(e)
	}
	m, ok := r.p.Catalog.Manifest(model)
	if !ok {
		return nil, nil, fmt.Errorf("model %q is not served by this runner: %w", model, ErrUnsupported)
	}
	size := folderSize(m.Dir)
	r.makeRoom(k.device, size)
	opts := r.p.Options
	opts.CUDADevice = gpu
	g, err := r.p.Open(m, opts)
	if err != nil {
		return nil, nil, err
	}
	var deviceMem int64
	if gpu != nil && r.p.DeviceMemory != nil {
		deviceMem = r.p.DeviceMemory(*gpu)
	}
	budget := r.p.JobMemory.On(gpu, deviceMem, r.p.SlotsPerGPU)
	g = &guarded{gen: g, model: model, models: r.p.Catalog.WithMemoryBudget(budget),
		memory: m.Memory.OrDefault(), budget: budget, relief: r.relief}
	e := &regEntry{gen: WithFaults(g, r.p.Faults), size: size}
	r.open[k] = e
	r.p.Logger.Info("model loaded", zap.String("model", model), zap.Int("device", k.device), zap.Int64("bytes", size),
		zap.Int64("job_memory_mb", budget>>20), zap.Bool("sliceable", m.Memory.OrDefault().Sliceable))
	return r.lease(e)
}

func (r *Registry) lease(e *regEntry) (Generator, func(), error) {
	e.refs++
	e.lastUsed = r.clock
	var once sync.Once
	return e.gen, func() {
		once.Do(func() {
			r.mu.Lock()
			e.refs--
			r.mu.Unlock()
		})
	}, nil
}

// makeRoom evicts least recently used, unused models of a device until
// size more bytes fit the budget. A model larger than the whole budget is
// still loaded (alone, if nothing else can go): refusing would fail jobs
// the operator asked this runner to serve.
func (r *Registry) makeRoom(device int, size int64) {
	if r.p.MemoryBudget <= 0 {
		return
	}
	var used int64
	var idle []regKey
	for k, e := range r.open {
		if k.device != device {
			continue
		}
		used += e.size
		if e.refs == 0 {
			idle = append(idle, k)
		}
	}
	sort.Slice(idle, func(i, j int) bool { return r.open[idle[i]].lastUsed < r.open[idle[j]].lastUsed })
	for _, k := range idle {
		if used+size <= r.p.MemoryBudget {
			return
		}
		e := r.open[k]
		delete(r.open, k)
		used -= e.size
		r.p.Logger.Info("model evicted to make room", zap.String("model", k.model), zap.Int("device", k.device),
			zap.Int64("bytes", e.size), zap.Int64("budget", r.p.MemoryBudget))
		go func() { _ = e.gen.Close() }()
	}
}

// Loaded lists the loaded models as "model@device", sorted.
func (r *Registry) Loaded() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for k := range r.open {
		dev := "cpu"
		if k.device >= 0 {
			dev = fmt.Sprintf("cuda:%d", k.device)
		}
		out = append(out, k.model+"@"+dev)
	}
	sort.Strings(out)
	return out
}

// Discard drops a model's generator on a device after a run on it failed
// (out of device memory, a broken session): the next job opens it afresh
// instead of running on a session in an unknown state. Only that very
// generator is dropped, not one opened since. It closes once its runs end.
func (r *Registry) Discard(model string, gpu *int, g Generator) bool {
	k := regKey{model: model, device: -1}
	if gpu != nil {
		k.device = *gpu
	}
	r.mu.Lock()
	e, ok := r.open[k]
	if !ok || e.gen != g {
		r.mu.Unlock()
		return false
	}
	delete(r.open, k)
	r.mu.Unlock()
	r.p.Logger.Warn("model session dropped after a failed run; the next job opens it again", zap.String("model", model), zap.Int("device", k.device))
	go func() { _ = e.gen.Close() }()
	return true
}

// Reload drops every loaded model so the next job loads it afresh, the
// original app's "forced cleanup". Old sessions close in the background
// once their runs end, so a hung run cannot block the reload.
func (r *Registry) Reload() []string {
	names := r.Loaded()
	r.mu.Lock()
	old := r.open
	r.open = map[regKey]*regEntry{}
	r.mu.Unlock()
	for _, e := range old {
		go func() { _ = e.gen.Close() }()
	}
	return names
}

// Close closes every loaded model, waiting for runs in progress.
func (r *Registry) Close() error {
	r.mu.Lock()
	old := r.open
	r.open = map[regKey]*regEntry{}
	r.mu.Unlock()
	defer r.relief.close()
	var errs []error
	for k, e := range old {
		if err := e.gen.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close %s: %w", k.model, err))
		}
	}
	return errors.Join(errs...)
}

// folderSize is the bytes of a model's files (following links): the
// weights dominate, so it stands in for the memory the loaded model takes.
func folderSize(dir string) int64 {
	var total int64
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := os.Stat(path); err == nil {
				total += info.Size()
			}
		}
		return nil
	})
	return total
}
