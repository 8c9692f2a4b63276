package pipeline

import (
	"fmt"
	"sync"

	"cyberimage/services/gpu-runner/internal/ort"
	"cyberimage/shared/models"
)

// Registry opens each model's generator on first use and keeps it: loading
// is the slow part, and the original app's reload per swap is what we avoid.
type Registry struct {
	catalog *models.Catalog
	opts    ort.Options
	faults  Faults

	mu   sync.Mutex
	open map[string]Generator
}

// NewRegistry serves the models of catalog.
func NewRegistry(catalog *models.Catalog, opts ort.Options, faults Faults) *Registry {
	return &Registry{catalog: catalog, opts: opts, faults: faults, open: map[string]Generator{}}
}

// For returns the generator of a model, loading it if needed. A model that
// fails to load returns the error every time it is asked for, so its jobs
// fail with the reason and the runner carries on.
func (r *Registry) For(model string) (Generator, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if g, ok := r.open[model]; ok {
		return g, nil
	}
	m, ok := r.catalog.Manifest(model)
	if !ok {
		return nil, fmt.Errorf("model %q is not served by this runner: %w", model, ErrUnsupported)
	}
	var g Generator
	var err error
	switch m.Pipeline {
	case "cppn":
		g, err = OpenCPPN(m.Path(), r.opts)
	case "stable-diffusion":
		g, err = OpenStableDiffusion(m.Dir, r.opts)
	default:
		err = fmt.Errorf("pipeline %q of model %q: %w", m.Pipeline, model, ErrUnsupported)
	}
	if err != nil {
		return nil, err
	}
	g = WithFaults(g, r.faults)
	r.open[model] = g
	return g, nil
}

// Reload drops every open session so the next job loads its model afresh,
// the original app's "forced cleanup". Old sessions close in the
// background once their runs end, so a hung run cannot block the reload.
func (r *Registry) Reload() []string {
	r.mu.Lock()
	old := r.open
	r.open = map[string]Generator{}
	r.mu.Unlock()
	names := make([]string, 0, len(old))
	for name, g := range old {
		names = append(names, name)
		go func() { _ = g.Close() }()
	}
	return names
}

// Close closes every open generator.
func (r *Registry) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var first error
	for name, g := range r.open {
		if err := g.Close(); err != nil && first == nil {
			first = fmt.Errorf("close %s: %w", name, err)
		}
		delete(r.open, name)
	}
	return first
}
