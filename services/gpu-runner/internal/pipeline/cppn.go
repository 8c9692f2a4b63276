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
// run each (or several, to fit a RunLimit), so progress is real and a cancel
// lands between slices as well as inside a run.
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
	return generateOne(ctx, c, spec, progress)
}

// GenerateBatch renders several jobs of one size and step count in the same
// ORT runs: their latents are stacked along the batch axis, and each job's
// pictures depend only on its own latents, so batching changes no pixel.
// Each step is one run, however large; GenerateBatchWithin bounds them.
func (c *CPPN) GenerateBatch(ctx context.Context, specs []job.Spec, progress Progress) ([][]Image, error) {
	return c.GenerateBatchWithin(ctx, specs, RunLimit{}, progress)
}

// GenerateBatchWithin is GenerateBatch with every ORT run cut to fit limit:
// each step's slice of pixels is rendered in as many runs, over as few
// images at a time, as it takes. Every pixel is computed by the same
// per-pixel math whatever run holds it, so the pictures are byte for byte
// those of GenerateBatch, and progress is still told once per step.
func (c *CPPN) GenerateBatchWithin(ctx context.Context, specs []job.Spec, limit RunLimit, progress Progress) ([][]Image, error) {
	spec := specs[0]
	w, h := spec.Width, spec.Height
	if w <= 0 || h <= 0 {
		return nil, fmt.Errorf("cppn: size %dx%d: %w", w, h, ErrUnsupported)
	}
	var latent []float32
	for _, s := range specs {
		if s.Width != w || s.Height != h || s.Steps != spec.Steps {
			return nil, fmt.Errorf("cppn: batch mixes sizes or steps")
		}
		if s.NumImages < 1 {
			return nil, fmt.Errorf("cppn: %d images: %w", s.NumImages, ErrUnsupported)
		}
		latent = append(latent, Latents(s)...)
	}
	b := len(latent) / demomodel.LatentSize
	pixels := w * h
	steps := max(1, min(spec.Steps, pixels))
	runImages, runPixels, err := limit.plan(pixels, b, spec.Guidance)
	if err != nil {
		return nil, fmt.Errorf("cppn: %w", err)
	}
	out := make([]Image, b)
	for i := range out {
		out[i] = Image{Width: w, Height: h, RGB: make([]byte, pixels*3)}
	}
	// One coordinate and one output buffer serve every run: ORT writes into
	// the output in place, so a job of thousands of runs leaves no garbage.
	slice := min(runPixels, pixels/steps+1)
	coords := make([]float32, 0, slice*3)
	rgb := make([]float32, runImages*slice*3)
	for step := range steps {
		lo, hi := step*pixels/steps, (step+1)*pixels/steps
		for plo := lo; plo < hi; plo += runPixels {
			phi := min(hi, plo+runPixels)
			n := phi - plo
			coords = Coords(coords[:0], w, h, plo, phi)
			for i0 := 0; i0 < b; i0 += runImages {
				i1 := min(b, i0+runImages)
				res := rgb[:(i1-i0)*n*3]
				err := c.session.RunInto(ctx, []ort.Value{
					ort.Tensor{Shape: []int64{int64(n), 3}, Data: coords},
					ort.Tensor{Shape: []int64{int64(i1 - i0), 1, demomodel.LatentSize}, Data: latent[i0*demomodel.LatentSize : i1*demomodel.LatentSize]},
				}, []ort.Tensor{{Shape: []int64{int64(i1 - i0), int64(n), 3}, Data: res}})
				if err != nil {
					return nil, err
				}
				for i := i0; i < i1; i++ {
					k := i - i0
					toBytes(out[i].RGB[plo*3:phi*3], res[k*n*3:(k+1)*n*3])
				}
			}
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
