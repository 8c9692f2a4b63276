package scheduler

import (
	"errors"
	"fmt"
	"math"
)

// Schedule is one job's sampling schedule. It is read-only after creation,
// so the images of a batch (and concurrent jobs) can share it.
type Schedule struct {
	// Timesteps[i] is the UNet's timestep input at step i, descending.
	Timesteps []float64
	// Sigmas[i] is the noise level at step i; Sigmas[len(Timesteps)] = 0.
	Sigmas []float64
	// InitNoiseSigma scales standard-normal initial latents.
	InitNoiseSigma float64

	ancestral  bool
	prediction string
}

// Noise draws standard-normal values; *rand.Rand satisfies it.
type Noise interface {
	NormFloat64() float64
}

// errNoNoise is returned by an ancestral Step without a noise source.
var errNoNoise = errors.New("scheduler: ancestral step needs a noise source")

// Steps is the number of denoising steps.
func (s *Schedule) Steps() int { return len(s.Timesteps) }

// InputScale is scale_model_input's factor at step i: 1/sqrt(σ²+1), which
// brings the noisy latents back to unit variance for the UNet.
func (s *Schedule) InputScale(i int) float64 {
	sigma := s.Sigmas[i]
	return 1 / math.Sqrt(sigma*sigma+1)
}

// ScaleModelInput writes x·InputScale(i) into dst (len(dst) == len(x)).
func (s *Schedule) ScaleModelInput(dst, x []float32, i int) {
	k := s.InputScale(i)
	for j, v := range x {
		dst[j] = float32(float64(v) * k)
	}
}

// Step advances sample (one image's latents, in place) from step i to i+1
// given the model output for it:
//
//	x0 = x - σ·ε                              (epsilon)
//	x0 = v·(-σ/√(σ²+1)) + x/(σ²+1)            (v_prediction)
//	x0 = out                                  (sample)
//	Euler:     x' = x + (x - x0)/σ · (σ_next - σ)
//	ancestral: σ_up = √(σ_next²(σ² - σ_next²)/σ²), σ_down = √(σ_next² - σ_up²),
//	           x' = x + (x - x0)/σ · (σ_down - σ) + σ_up·n,  n ~ N(0,1) from noise
//
// Euler ignores noise. The ancestral sampler draws one value per element
// every step, the last included, so a job's noise stream depends only on its
// step count.
func (s *Schedule) Step(i int, sample, modelOutput []float32, noise Noise) error {
	if i < 0 || i >= s.Steps() {
		return fmt.Errorf("scheduler: step %d outside [0, %d)", i, s.Steps())
	}
	if len(sample) != len(modelOutput) {
		return fmt.Errorf("scheduler: %d model outputs for %d latents", len(modelOutput), len(sample))
	}
	if s.ancestral && noise == nil {
		return errNoNoise
	}
	sigma, next := s.Sigmas[i], s.Sigmas[i+1]
	target := next // where the deterministic part lands
	var up float64
	if s.ancestral {
		up = math.Sqrt(next * next * (sigma*sigma - next*next) / (sigma * sigma))
		target = math.Sqrt(max(0, next*next-up*up)) // max: rounding must not make NaN
	}
	dt := target - sigma
	for j := range sample {
		x := float64(sample[j])
		x0 := s.predictOriginal(x, float64(modelOutput[j]), sigma)
		x += (x - x0) / sigma * dt
		if s.ancestral {
			x += noise.NormFloat64() * up
		}
		sample[j] = float32(x)
	}
	return nil
}

// predictOriginal is the model's estimate of the clean latent x0.
func (s *Schedule) predictOriginal(x, out, sigma float64) float64 {
	switch s.prediction {
	case "v_prediction":
		return out*(-sigma/math.Sqrt(sigma*sigma+1)) + x/(sigma*sigma+1)
	case "sample":
		return out
	default: // epsilon
		return x - sigma*out
	}
}
