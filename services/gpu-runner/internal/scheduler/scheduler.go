package scheduler

import (
	"fmt"
	"math"
	"slices"
)

// Scheduler is the training noise schedule of a model: ᾱ_t (alphas_cumprod)
// for t = 0..num_train_timesteps-1 and the matching sigmas. It is immutable.
type Scheduler struct {
	cfg Config
	// trainSigmas[t] = sqrt((1-ᾱ_t)/ᾱ_t), increasing with t.
	trainSigmas []float64
}

// New builds the schedule of cfg, or an error wrapping ErrUnsupported for a
// config whose diffusers behaviour is not reproduced here.
func New(cfg Config) (*Scheduler, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Ancestral() && cfg.PredictionType == "sample" {
		// diffusers' EulerAncestralDiscreteScheduler raises for it too.
		return nil, fmt.Errorf("%w: prediction_type \"sample\" with %s", ErrUnsupported, EulerAncestral)
	}
	betas := Betas(cfg)
	sigmas := make([]float64, len(betas))
	cum := 1.0
	for t, b := range betas {
		cum *= 1 - b // ᾱ_t = Π_{s≤t} (1-β_s)
		sigmas[t] = math.Sqrt((1 - cum) / cum)
	}
	return &Scheduler{cfg: cfg, trainSigmas: sigmas}, nil
}

// Config returns the config the scheduler was built from.
func (s *Scheduler) Config() Config { return s.cfg }

// TrainSigma is σ at training timestep t: sqrt((1-ᾱ_t)/ᾱ_t).
func (s *Scheduler) TrainSigma(t int) float64 { return s.trainSigmas[t] }

// Betas returns the per-timestep noise variances β_t of cfg:
//
//	linear:            linspace(beta_start, beta_end, T)
//	scaled_linear:     linspace(√beta_start, √beta_end, T)²   (Stable Diffusion)
//	squaredcos_cap_v2: 1 - ᾱ(t+1)/ᾱ(t) with ᾱ(t) = cos²(((t/T)+0.008)/1.008·π/2), capped at 0.999
//
// trained_betas, when given, are used as they are.
func Betas(cfg Config) []float64 {
	n := cfg.NumTrainTimesteps
	if cfg.TrainedBetas != nil {
		return slices.Clone(cfg.TrainedBetas)
	}
	betas := make([]float64, n)
	switch cfg.BetaSchedule {
	case "scaled_linear":
		for i, v := range linspace(math.Sqrt(cfg.BetaStart), math.Sqrt(cfg.BetaEnd), n) {
			betas[i] = v * v
		}
	case "squaredcos_cap_v2":
		alphaBar := func(t float64) float64 {
			c := math.Cos((t + 0.008) / 1.008 * math.Pi / 2)
			return c * c
		}
		for i := range n {
			t1, t2 := float64(i)/float64(n), float64(i+1)/float64(n)
			betas[i] = min(1-alphaBar(t2)/alphaBar(t1), 0.999)
		}
	default: // linear
		copy(betas, linspace(cfg.BetaStart, cfg.BetaEnd, n))
	}
	return betas
}

// linspace is numpy's: n points from start to stop inclusive, the last one
// exactly stop.
func linspace(start, stop float64, n int) []float64 {
	out := make([]float64, n)
	if n == 1 {
		out[0] = start
		return out
	}
	step := (stop - start) / float64(n-1)
	for i := range n {
		out[i] = start + float64(i)*step
	}
	out[n-1] = stop
	return out
}

// f32 rounds to float32 precision: diffusers keeps timesteps and sigmas as
// float32, and an int64 timestep input truncates that value.
func f32(v float64) float64 { return float64(float32(v)) }

// Schedule returns the sampling schedule for steps denoising steps, as
// diffusers' set_timesteps computes it.
func (s *Scheduler) Schedule(steps int) (*Schedule, error) {
	T := s.cfg.NumTrainTimesteps
	if steps < 1 || steps > T {
		return nil, fmt.Errorf("scheduler: %d steps outside [1, %d]", steps, T)
	}
	ts := make([]float64, steps)
	switch s.cfg.TimestepSpacing {
	case "linspace": // linspace(0, T-1, n), reversed
		for i, v := range linspace(0, float64(T-1), steps) {
			ts[steps-1-i] = f32(v)
		}
	case "leading": // (arange(n) * (T // n)).round(), reversed, + steps_offset
		ratio := T / steps
		for i := range steps {
			ts[steps-1-i] = float64(i*ratio + s.cfg.StepsOffset)
		}
	case "trailing": // arange(T, 0, -T/n).round() - 1
		ratio := float64(T) / float64(steps)
		for i := range steps {
			ts[i] = math.RoundToEven(float64(T)-float64(i)*ratio) - 1
		}
	}
	sigmas := make([]float64, steps+1) // the final sigma stays 0
	for i, t := range ts {
		sigmas[i] = f32(s.interpSigma(t))
	}
	sch := &Schedule{
		Timesteps:  ts,
		Sigmas:     sigmas,
		ancestral:  s.cfg.Ancestral(),
		prediction: s.cfg.PredictionType,
	}
	maxSigma := slices.Max(sigmas)
	if s.cfg.TimestepSpacing == "leading" {
		sch.InitNoiseSigma = math.Sqrt(maxSigma*maxSigma + 1)
	} else {
		sch.InitNoiseSigma = maxSigma
	}
	return sch, nil
}

// interpSigma is np.interp(t, arange(T), trainSigmas): linear between the
// neighbouring training timesteps, clamped at the ends.
func (s *Scheduler) interpSigma(t float64) float64 {
	last := len(s.trainSigmas) - 1
	switch {
	case t <= 0:
		return s.trainSigmas[0]
	case t >= float64(last):
		return s.trainSigmas[last]
	}
	lo := int(math.Floor(t))
	frac := t - float64(lo)
	return s.trainSigmas[lo] + frac*(s.trainSigmas[lo+1]-s.trainSigmas[lo])
}
