package pipeline

import (
	"context"
	"fmt"

	"cyberimage/shared/job"
)

// guarded is what the registry hands out for every model. Before the model
// sees a spec it checks it again by ingest's rules (job.Check) under this
// device's job memory budget, so a bad or oversized record fails with a
// reason instead of crashing or swamping the runner; it then runs a
// sliceable model within the budget, splits a batch a non-sliceable model
// cannot hold at once, and hands memory back after a large job.
type guarded struct {
	gen    Generator
	model  string
	models job.Models // the catalog under this device's budget
	memory job.Memory
	budget int64
	relief *relief
}

func (g *guarded) Close() error { return g.gen.Close() }

// Generate runs one job.
func (g *guarded) Generate(ctx context.Context, spec job.Spec, progress Progress) ([]Image, error) {
	return generateOne(ctx, g, spec, progress)
}

// GenerateBatch runs jobs that share a batch key.
func (g *guarded) GenerateBatch(ctx context.Context, specs []job.Spec, progress Progress) ([][]Image, error) {
	if len(specs) == 0 {
		return nil, nil
	}
	for _, s := range specs {
		if err := g.check(s); err != nil {
			return nil, err
		}
	}
	defer g.relief.after(g.memory.Estimate(specs...))
	if s, ok := g.gen.(Slicer); ok && g.memory.Sliceable {
		return s.GenerateBatchWithin(ctx, specs, RunLimit{Memory: g.memory, Budget: g.budget}, progress)
	}
	parts := g.split(specs)
	if len(parts) == 1 {
		return GenerateAll(ctx, g.gen, specs, progress)
	}
	out := make([][]Image, 0, len(specs))
	partOf := partProgress(progress, len(parts))
	for k, part := range parts {
		imgs, err := GenerateAll(ctx, g.gen, part, partOf(k))
		if err != nil {
			return nil, err
		}
		out = append(out, imgs...)
	}
	return out, nil
}

// check refuses, as input the model cannot serve, a spec for another model
// or one that breaks a rule of the contract or the budget.
func (g *guarded) check(s job.Spec) error {
	if s.Model != g.model {
		return fmt.Errorf("spec for model %q sent to model %q: %w", s.Model, g.model, ErrUnsupported)
	}
	if err := job.Check(s, g.models); err != nil {
		return fmt.Errorf("%w (%w)", err, ErrUnsupported)
	}
	return nil
}

// split cuts a batch into runs whose estimates fit the budget, in order;
// each job fits alone (check saw to it).
func (g *guarded) split(specs []job.Spec) [][]job.Spec {
	if g.budget <= 0 {
		return [][]job.Spec{specs}
	}
	var parts [][]job.Spec
	from := 0
	for i := 1; i <= len(specs); i++ {
		if i == len(specs) || g.memory.Estimate(specs[from:i+1]...) > g.budget {
			parts = append(parts, specs[from:i])
			from = i
		}
	}
	return parts
}

// partProgress maps the steps of part k of n sequential runs onto one count
// of the batch's steps, told only when it moves, so the jobs' progress still
// rises from 1 to total once.
func partProgress(progress Progress, n int) func(k int) Progress {
	last := 0
	return func(k int) Progress {
		if progress == nil {
			return nil
		}
		return func(step, total int) {
			overall := (k*total + step) / n
			if overall > last {
				last = overall
				progress(overall, total)
			}
		}
	}
}

var _ BatchGenerator = (*guarded)(nil)
