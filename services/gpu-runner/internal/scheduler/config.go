// Package scheduler implements diffusers' EulerDiscreteScheduler and
// EulerAncestralDiscreteScheduler for the sampling loop of latent
// diffusion, driven by a model's scheduler/scheduler_config.json.
//
// A Scheduler holds what depends only on the config (the training noise
// schedule); Schedule(steps) returns the per-job timesteps and sigmas, so
// one Scheduler serves concurrent jobs.
package scheduler

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
)

// ErrUnsupported marks a scheduler config this package cannot reproduce.
var ErrUnsupported = errors.New("scheduler: unsupported config")

// Kinds of sampler, from the config's _class_name.
const (
	Euler          = "EulerDiscreteScheduler"
	EulerAncestral = "EulerAncestralDiscreteScheduler"
)

// Config is scheduler_config.json. Missing fields take diffusers'
// EulerDiscreteScheduler defaults (see DefaultConfig), which is also what
// diffusers does when a config written for another scheduler (SD 1.5 ships
// PNDMScheduler's) is loaded into Euler with from_config.
type Config struct {
	ClassName         string    `json:"_class_name"`
	NumTrainTimesteps int       `json:"num_train_timesteps"`
	BetaStart         float64   `json:"beta_start"`
	BetaEnd           float64   `json:"beta_end"`
	BetaSchedule      string    `json:"beta_schedule"` // linear, scaled_linear, squaredcos_cap_v2
	TrainedBetas      []float64 `json:"trained_betas"`
	PredictionType    string    `json:"prediction_type"`  // epsilon, v_prediction, sample
	TimestepSpacing   string    `json:"timestep_spacing"` // linspace, leading, trailing
	StepsOffset       int       `json:"steps_offset"`
	InterpolationType string    `json:"interpolation_type"` // linear only
	UseKarrasSigmas   bool      `json:"use_karras_sigmas"`
	TimestepType      string    `json:"timestep_type"`     // discrete only
	FinalSigmasType   string    `json:"final_sigmas_type"` // zero only
	RescaleZeroSNR    bool      `json:"rescale_betas_zero_snr"`
}

// DefaultConfig is EulerDiscreteScheduler's constructor defaults.
func DefaultConfig() Config {
	return Config{
		ClassName:         Euler,
		NumTrainTimesteps: 1000,
		BetaStart:         0.0001,
		BetaEnd:           0.02,
		BetaSchedule:      "linear",
		PredictionType:    "epsilon",
		TimestepSpacing:   "linspace",
		InterpolationType: "linear",
		TimestepType:      "discrete",
		FinalSigmasType:   "zero",
	}
}

// LoadConfig reads a scheduler_config.json over DefaultConfig.
func LoadConfig(path string) (Config, error) {
	cfg := DefaultConfig()
	data, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("scheduler config: %w", err)
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return cfg, fmt.Errorf("scheduler config %s: %w", path, err)
	}
	// JSON null leaves these empty; they mean the defaults.
	def := DefaultConfig()
	for _, f := range []struct{ v, d *string }{
		{&cfg.ClassName, &def.ClassName}, {&cfg.BetaSchedule, &def.BetaSchedule},
		{&cfg.PredictionType, &def.PredictionType}, {&cfg.TimestepSpacing, &def.TimestepSpacing},
		{&cfg.InterpolationType, &def.InterpolationType}, {&cfg.TimestepType, &def.TimestepType},
		{&cfg.FinalSigmasType, &def.FinalSigmasType},
	} {
		if *f.v == "" {
			*f.v = *f.d
		}
	}
	return cfg, nil
}

// Ancestral reports whether the config asks for Euler ancestral sampling.
// Every other class name samples with plain Euler.
func (c Config) Ancestral() bool { return c.ClassName == EulerAncestral }

// validate rejects settings whose diffusers behaviour is not reproduced
// here, so a model never silently samples with the wrong schedule.
func (c Config) validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrUnsupported}, args...)...))
	}
	if c.NumTrainTimesteps < 2 {
		bad("num_train_timesteps %d", c.NumTrainTimesteps)
	}
	if c.TrainedBetas != nil && len(c.TrainedBetas) != c.NumTrainTimesteps {
		bad("%d trained_betas for %d train timesteps", len(c.TrainedBetas), c.NumTrainTimesteps)
	}
	switch c.BetaSchedule {
	case "linear", "scaled_linear", "squaredcos_cap_v2":
	default:
		if c.TrainedBetas == nil {
			bad("beta_schedule %q", c.BetaSchedule)
		}
	}
	switch c.PredictionType {
	case "epsilon", "v_prediction", "sample":
	default:
		bad("prediction_type %q", c.PredictionType)
	}
	switch c.TimestepSpacing {
	case "linspace", "leading", "trailing":
	default:
		bad("timestep_spacing %q", c.TimestepSpacing)
	}
	if c.InterpolationType != "linear" {
		bad("interpolation_type %q", c.InterpolationType)
	}
	if c.UseKarrasSigmas {
		bad("use_karras_sigmas")
	}
	if c.TimestepType != "discrete" {
		bad("timestep_type %q", c.TimestepType)
	}
	if c.FinalSigmasType != "zero" {
		bad("final_sigmas_type %q", c.FinalSigmasType)
	}
	if c.RescaleZeroSNR {
		bad("rescale_betas_zero_snr")
	}
	return errors.Join(errs...)
}
