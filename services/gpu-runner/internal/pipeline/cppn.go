package pipeline

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"

	"cyberimage/services/gpu-runner/internal/demomodel"
	"cyberimage/services/gpu-runner/internal/ort"
	"cyberimage/shared/job"
)

// CPPN runs the demo model: a per-pixel network whose latent comes from the
// seed and the prompt. The pixels are rendered in `steps` slices, one ORT
// run each, so progress is real and a cancel lands between slices as well as
// inside a run.
type CPPN struct {
	session *ort.Session
}

// OpenCPPN loads the demo model file.
func OpenCPPN(path string, opts ort.Options) (*CPPN, error) {
	s, err := ort.Open(path, []string{demomodel.InputCoords, demomodel.InputLatent}, []string{demomodel.OutputRGB}, opts)
	if err != nil {
		return nil, fmt.Errorf("open cppn %s: %w", path, err)
	}
	return &CPPN{session: s}, nil
}

// Close releases the session after runs in progress end.
func (c *CPPN) Close() error { return c.session.Close() }

// Generate renders spec.NumImages pictures of spec.Width × spec.Height.
func (c *CPPN) Generate(ctx context.Context, spec job.Spec, progress Progress) ([]Image, error) {
	out, err := c.GenerateBatch(ctx, []job.Spec{spec}, progress)
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// GenerateBatch renders several jobs of one size and step count in the same
// ORT runs: their latents are stacked along the batch axis, and each job's
// pictures depend only on its own latents, so batching changes no pixel.
func (c *CPPN) GenerateBatch(ctx context.Context, specs []job.Spec, progress Progress) ([][]Image, error) {
	spec := specs[0]
	w, h := spec.Width, spec.Height
	var latent []float32
	for _, s := range specs {
		if s.Width != w || s.Height != h || s.Steps != spec.Steps {
			return nil, fmt.Errorf("cppn: batch mixes sizes or steps")
		}
		latent = append(latent, Latents(s)...)
	}
	b := len(latent) / demomodel.LatentSize
	pixels := w * h
	steps := max(1, min(spec.Steps, pixels))
	out := make([]Image, b)
	for i := range out {
		out[i] = Image{Width: w, Height: h, RGB: make([]byte, pixels*3)}
	}
	coords := make([]float32, 0, (pixels/steps+1)*3)
	for step := range steps {
		lo, hi := step*pixels/steps, (step+1)*pixels/steps
		coords = Coords(coords[:0], w, h, lo, hi)
		res, err := c.session.Run(ctx, []ort.Tensor{
			{Shape: []int64{int64(hi - lo), 3}, Data: coords},
			{Shape: []int64{int64(b), 1, demomodel.LatentSize}, Data: latent},
		})
		if err != nil {
			return nil, err
		}
		rgb := res[0].Data
		if len(rgb) != b*(hi-lo)*3 {
			return nil, fmt.Errorf("cppn: output has %d values, want %d", len(rgb), b*(hi-lo)*3)
		}
		for i := range b {
			toBytes(out[i].RGB[lo*3:hi*3], rgb[i*(hi-lo)*3:(i+1)*(hi-lo)*3])
		}
		if progress != nil {
			progress(step+1, steps)
		}
	}
	perJob := make([][]Image, len(specs))
	for i, s := range specs {
		perJob[i], out = out[:s.NumImages], out[s.NumImages:]
	}
	return perJob, nil
}

// Coords appends (x, y, r) for pixels [lo, hi) of a w × h picture. The
// shorter side spans [-1, 1], so pictures are not stretched.
func Coords(dst []float32, w, h, lo, hi int) []float32 {
	half := float64(min(w, h)) / 2
	for p := lo; p < hi; p++ {
		x := (float64(p%w) + 0.5 - float64(w)/2) / half
		y := (float64(p/w) + 0.5 - float64(h)/2) / half
		dst = append(dst, float32(x), float32(y), float32(math.Sqrt(x*x+y*y)))
	}
	return dst
}

// Latents derives one latent per image from the seed, the image index, the
// prompt and the negative prompt, so the same spec always gives the same
// pictures and the prompt shapes them.
func Latents(spec job.Spec) []float32 {
	z := make([]float32, spec.NumImages*demomodel.LatentSize)
	prompt := textVector(spec.Prompt)
	negative := textVector(spec.NegativePrompt)
	pull := 0.3 + float32(spec.Guidance)/30
	for i := range spec.NumImages {
		rng := rand.New(rand.NewPCG(uint64(spec.Seed), uint64(i)))
		for k := range demomodel.LatentSize {
			v := float32(rng.NormFloat64())*0.8 + prompt[k]*pull
			if spec.NegativePrompt != "" {
				v -= negative[k] * pull / 2
			}
			z[i*demomodel.LatentSize+k] = v
		}
	}
	return z
}

func textVector(s string) [demomodel.LatentSize]float32 {
	var v [demomodel.LatentSize]float32
	if s == "" {
		return v
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(s))
	rng := rand.New(rand.NewPCG(h.Sum64(), 0x5eed))
	for k := range v {
		v[k] = float32(rng.NormFloat64())
	}
	return v
}

// toBytes quantises [0, 1] floats to bytes, rounding to nearest.
func toBytes(dst []byte, src []float32) {
	for i, f := range src {
		switch {
		case !(f > 0): // also NaN
			dst[i] = 0
		case f >= 1:
			dst[i] = 255
		default:
			dst[i] = byte(f*255 + 0.5)
		}
	}
}
