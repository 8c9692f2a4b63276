// Package pipeline turns a job spec into raw images by running a model.
// Each pipeline kind (the manifest's "pipeline") is one Generator.
package pipeline

import (
	"context"
	"errors"

	"cyberimage/shared/job"
)

// Image is a generated picture as 8-bit RGB, row-major, 3 bytes a pixel.
type Image struct {
	Width, Height int
	RGB           []byte
}

// Progress is told about each finished step; steps count from 1.
type Progress func(step, total int)

// Generator makes the images of one job.
type Generator interface {
	Generate(ctx context.Context, spec job.Spec, progress Progress) ([]Image, error)
	Close() error
}

// ErrUnsupported marks input the model cannot serve: retrying cannot help,
// so the job fails at once instead of burning its retries.
var ErrUnsupported = errors.New("not supported by this model")
