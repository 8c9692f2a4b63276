package pipeline

import (
	"context"

	"cyberimage/shared/job"
)

// BatchGenerator is a Generator that can run several jobs as one batch.
// The worker batches only jobs for which BatchKey is equal.
type BatchGenerator interface {
	Generator
	// GenerateBatch returns one []Image per spec, in order.
	GenerateBatch(ctx context.Context, specs []job.Spec, progress Progress) ([][]Image, error)
}

// BatchKey groups jobs that can share one model run: same model, size and
// steps (and guidance, which decides the passes of diffusion models).
type BatchKey struct {
	Model         string
	Width, Height int
	Steps         int
	Guidance      float64
}

// KeyOf is the batch key of a spec.
func KeyOf(s job.Spec) BatchKey {
	return BatchKey{Model: s.Model, Width: s.Width, Height: s.Height, Steps: s.Steps, Guidance: s.Guidance}
}

// generateOne runs one job through g's batch path: every BatchGenerator
// here makes a job's pictures the same alone or in a batch, so Generate is
// a batch of one.
func generateOne(ctx context.Context, g BatchGenerator, spec job.Spec, progress Progress) ([]Image, error) {
	out, err := g.GenerateBatch(ctx, []job.Spec{spec}, progress)
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// GenerateAll runs specs as one batch when g batches, or one by one when it
// does not: how the worker runs a group, and how wrappers (the guard,
// injected faults) pass a batch on to any model.
func GenerateAll(ctx context.Context, g Generator, specs []job.Spec, progress Progress) ([][]Image, error) {
	if bg, ok := g.(BatchGenerator); ok {
		return bg.GenerateBatch(ctx, specs, progress)
	}
	out := make([][]Image, len(specs))
	for i, s := range specs {
		imgs, err := g.Generate(ctx, s, progress)
		if err != nil {
			return nil, err
		}
		out[i] = imgs
	}
	return out, nil
}
