package pipeline

import (
	"context"
	"fmt"

	"cyberimage/shared/job"
)

// RunLimit bounds the ORT runs of a sliceable generator: by Memory's
// figures, the job's fixed cost, its finished images and one run's working
// set together stay within Budget bytes. The zero value bounds nothing.
type RunLimit struct {
	Memory job.Memory
	Budget int64
}

// Slicer is a generator that can split a job's pixels and images over as
// many runs as a RunLimit asks, with the same output as one run.
type Slicer interface {
	BatchGenerator
	GenerateBatchWithin(ctx context.Context, specs []job.Spec, limit RunLimit, progress Progress) ([][]Image, error)
}

// runHeadroomPercent is the share of a job's available budget one run is
// planned to use.
const runHeadroomPercent = 85

// plan picks how many images and pixels one run holds, for a job (or batch)
// of images pictures of pixels pixels: as many images as still leave a run
// of job.MinRunPixels (batch rows share the per-run costs), then as many
// pixels as fit. Without a budget it is everything at once.
func (l RunLimit) plan(pixels, images int, guidance float64) (runImages, runPixels int, err error) {
	if l.Budget <= 0 {
		return images, pixels, nil
	}
	m := l.Memory
	rows := m.RowFactor(guidance)
	avail := l.Budget - m.Fixed() - job.OutputBytes(pixels, images)
	minPixels := min(pixels, job.MinRunPixels)
	if m.RunBytes(minPixels, 1, rows) <= avail {
		// Runs are planned with headroom: the manifest's figures are
		// measured averages, and the allocator, the encoder that follows
		// and the Go heap's lag all take a little beyond them.
		avail = max(m.RunBytes(minPixels, 1, rows), avail*runHeadroomPercent/100)
	}
	if m.RunBytes(minPixels, 1, rows) > avail {
		return 0, 0, fmt.Errorf("%d images of %d pixels do not fit a job memory budget of %d MB even sliced: %w",
			images, pixels, l.Budget>>20, ErrUnsupported)
	}
	perImage := float64(minPixels) * rows * m.BytesPerPixel
	runImages = images
	if perImage > 0 {
		fit := (float64(avail) - float64(minPixels)*m.BytesPerPixelOnce) / perImage
		runImages = max(1, min(images, int(fit)))
	}
	perPixel := m.BytesPerPixelOnce + float64(runImages)*rows*m.BytesPerPixel
	runPixels = pixels
	if perPixel > 0 {
		runPixels = max(minPixels, min(pixels, int(float64(avail)/perPixel)))
	}
	return runImages, runPixels, nil
}
