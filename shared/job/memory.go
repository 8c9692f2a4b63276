package job

import (
	"fmt"
	"math"
)

// Memory is how a model's working memory grows with a job, declared in its
// manifest ("memory") from measurements of the real pipeline. Ingest uses it
// to refuse a job no runner could fit, runners to refuse or split one.
// Figures are bytes of resident memory beyond an idle runner with the model
// loaded (the model files themselves are CYBERIMAGE_MODEL_MEMORY_MB's
// business).
type Memory struct {
	// FixedMB is taken by any job of the model, whatever its size.
	FixedMB float64 `json:"fixed_mb"`
	// BytesPerPixel is working memory per output pixel of each image in one
	// run: it grows with width × height × images (× batch).
	BytesPerPixel float64 `json:"bytes_per_pixel"`
	// BytesPerPixelOnce is working memory per output pixel of one run,
	// however many images it holds (pixel coordinates shared by a batch, a
	// VAE decoding one image at a time).
	BytesPerPixelOnce float64 `json:"bytes_per_pixel_once,omitempty"`
	// GuidanceFactor multiplies BytesPerPixel when guidance > 1: classifier-
	// free guidance runs an unconditional and a conditional row per image.
	// 0 means 1.
	GuidanceFactor float64 `json:"guidance_factor,omitempty"`
	// Sliceable says the pipeline can split a job's pixels and images over as
	// many runs as it takes to fit a budget (the CPPN); otherwise the whole
	// estimate must fit.
	Sliceable bool `json:"sliceable,omitempty"`
}

// DefaultMemory is assumed for a model whose manifest declares none. It is
// deliberately generous (about a float32 SD 1.5 UNet with guidance), so an
// undeclared model is refused large jobs rather than taking a runner down:
// 512×512 with one image needs about 640 MB, 1024×1024 about 1.8 GB.
var DefaultMemory = Memory{FixedMB: 256, BytesPerPixel: 512, BytesPerPixelOnce: 512, GuidanceFactor: 2}

// OutputBytesPerPixel is what a finished image holds (8-bit RGB) until it is
// encoded and stored; it counts against a job's budget even when sliced.
const OutputBytesPerPixel = 3

// MinRunPixels is the smallest run a sliceable pipeline is asked to make
// (about one 64-pixel-wide strip of 64 rows): below it, per-run overhead
// dominates and a budget that small is a mistake, not a limit.
const MinRunPixels = 4096

// OrDefault is m, or DefaultMemory when m declares nothing.
func (m Memory) OrDefault() Memory {
	if m == (Memory{}) {
		return DefaultMemory
	}
	return m
}

// Validate reports figures that cannot describe a pipeline.
func (m Memory) Validate() error {
	for _, f := range []float64{m.FixedMB, m.BytesPerPixel, m.BytesPerPixelOnce, m.GuidanceFactor} {
		if !(f >= 0) || math.IsInf(f, 0) {
			return fmt.Errorf("memory figures must be non-negative numbers: %+v", m)
		}
	}
	return nil
}

// RowFactor is how many working rows one image takes with this guidance.
func (m Memory) RowFactor(guidance float64) float64 {
	if guidance > 1 && m.GuidanceFactor > 1 {
		return m.GuidanceFactor
	}
	return 1
}

// Fixed is FixedMB in bytes.
func (m Memory) Fixed() int64 { return int64(m.FixedMB * (1 << 20)) }

// RunBytes is the working set of one run over pixels pixels of images
// images (each counted rows times, see RowFactor).
func (m Memory) RunBytes(pixels, images int, rows float64) int64 {
	p := float64(pixels)
	return int64(math.Ceil(p*m.BytesPerPixelOnce + p*float64(images)*rows*m.BytesPerPixel))
}

// OutputBytes is what the finished images of a job (or batch) hold.
func OutputBytes(pixels, images int) int64 {
	return int64(pixels) * int64(images) * OutputBytesPerPixel
}

// Estimate is the memory a batch of jobs needs when run whole, in one run:
// what a pipeline that cannot slice needs, and what a sliceable one would
// need without a budget. Specs of a batch share size and guidance.
func (m Memory) Estimate(specs ...Spec) int64 {
	if len(specs) == 0 {
		return 0
	}
	pixels, images := specs[0].Width*specs[0].Height, 0
	for _, s := range specs {
		images += s.NumImages
	}
	return m.Fixed() + m.RunBytes(pixels, images, m.RowFactor(specs[0].Guidance)) + OutputBytes(pixels, images)
}

// Minimum is the least memory a job can run in: the estimate, or for a
// sliceable pipeline the finished images plus the smallest run.
func (m Memory) Minimum(s Spec) int64 {
	if !m.Sliceable {
		return m.Estimate(s)
	}
	pixels := s.Width * s.Height
	run := m.RunBytes(min(pixels, MinRunPixels), min(1, s.NumImages), m.RowFactor(s.Guidance))
	return m.Fixed() + run + OutputBytes(pixels, s.NumImages)
}

// checkMemory refuses a spec whose Minimum exceeds the budget (0: none).
// The field names what to lower: num_images when one image would fit,
// width otherwise.
func checkMemory(s Spec, limits ModelLimits) error {
	if limits.MemoryBudget <= 0 {
		return nil
	}
	m := limits.Memory.OrDefault()
	need := m.Minimum(s)
	if need <= limits.MemoryBudget {
		return nil
	}
	one := s
	one.NumImages = 1
	field := "width"
	if s.NumImages > 1 && m.Minimum(one) <= limits.MemoryBudget {
		field = "num_images"
	}
	how := ""
	if m.Sliceable {
		how = " even split into slices"
	}
	return reject(CodeMemoryBudgetExceeded, field,
		"%dx%d with %d image(s) on model %q needs an estimated %d MB%s; the job memory budget is %d MB",
		s.Width, s.Height, s.NumImages, limits.Name, mb(need), how, mb(limits.MemoryBudget))
}

func mb(b int64) int64 { return (b + 1<<20 - 1) >> 20 }
