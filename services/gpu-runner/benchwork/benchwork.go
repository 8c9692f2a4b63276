// Package benchwork opens one runner slot's work on a job to the
// benchmark in the tools module (tools/cmd/bench-model): the demo model's
// Generate, the PNG encode at the runner's default compression and the
// PUT with the image's metadata, each by the runner's own code. Go's
// internal rule keeps the tools module out of this module's internal
// packages, and the benchmark must run this work in its own process,
// beside its NATS and S3 calls (the design's floor is one process by
// definition), so it cannot call a program here instead. This package is
// that one door and nothing more; no service imports it.
package benchwork

import (
	"context"
	"image/png"

	"github.com/minio/minio-go/v7"

	"cyberimage/services/gpu-runner/internal/imaging"
	"cyberimage/services/gpu-runner/internal/ort"
	"cyberimage/services/gpu-runner/internal/pipeline"
	"cyberimage/services/gpu-runner/internal/storage"
	"cyberimage/shared/job"
)

// Init loads the ONNX Runtime library, once per process.
func Init(ortLib string) error { return ort.Init(ortLib) }

// Image is one rendered picture: Width × Height, 3 bytes a pixel.
type Image = pipeline.Image

// Slot is what one runner slot holds: a session of the demo model and a
// PNG encoder. Like a slot, it does one job at a time.
type Slot struct {
	gen *pipeline.CPPN
	enc *imaging.Encoder
}

// OpenSlot opens the demo model file with threads ORT intra-op threads
// (the runner's default is 1) and an encoder at the runner's default
// compression (CYBERIMAGE_PNG_COMPRESSION=speed).
func OpenSlot(model string, threads int) (*Slot, error) {
	gen, err := pipeline.OpenCPPN(model, ort.Options{IntraOpThreads: threads})
	if err != nil {
		return nil, err
	}
	return &Slot{gen: gen, enc: imaging.NewEncoder(png.BestSpeed)}, nil
}

// Generate renders the spec's first image, as a runner does.
func (s *Slot) Generate(ctx context.Context, spec job.Spec) (Image, error) {
	images, err := s.gen.Generate(ctx, spec, nil)
	if err != nil {
		return Image{}, err
	}
	return images[0], nil
}

// Encode makes the PNG a runner stores for img.
func (s *Slot) Encode(img Image) ([]byte, error) {
	return s.enc.EncodeRGB(img.Width, img.Height, img.RGB)
}

// Close ends the model session.
func (s *Slot) Close() error { return s.gen.Close() }

// Images stores a job's PNGs with their metadata, as the runner does.
type Images = storage.Images

// NewImages stores into bucket through client.
func NewImages(client *minio.Client, bucket string) *Images { return storage.NewImages(client, bucket) }
