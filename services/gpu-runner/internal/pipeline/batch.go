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
