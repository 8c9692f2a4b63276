package scheduler

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

const tol = 1e-6

func near(t *testing.T, want, got float64, msg string) {
	t.Helper()
	require.InDelta(t, want, got, tol, msg)
}

func nearAll(t *testing.T, want, got []float64, msg string) {
	t.Helper()
	require.Len(t, got, len(want), msg)
	for i := range want {
		require.InDelta(t, want[i], got[i], tol, "%s [%d]", msg, i)
	}
}

func TestBetasByHand(t *testing.T) {
	cfg := DefaultConfig()
	cfg.NumTrainTimesteps = 3

	// linear: linspace(0.1, 0.3, 3) = 0.1, 0.2, 0.3.
	cfg.BetaSchedule, cfg.BetaStart, cfg.BetaEnd = "linear", 0.1, 0.3
	nearAll(t, []float64{0.1, 0.2, 0.3}, Betas(cfg), "linear")

	// scaled_linear: linspace(√0.01, √0.09, 3) = 0.1, 0.2, 0.3, squared =
	// 0.01, 0.04, 0.09.
	cfg.BetaSchedule, cfg.BetaStart, cfg.BetaEnd = "scaled_linear", 0.01, 0.09
	nearAll(t, []float64{0.01, 0.04, 0.09}, Betas(cfg), "scaled_linear")

	// Then ᾱ = 0.99, 0.99·0.96 = 0.9504, 0.9504·0.91 = 0.864864 and
	// σ = √(0.01/0.99) = 0.1005038, √(0.0496/0.9504) = 0.2284481,
	// √(0.135136/0.864864) = 0.3952862.
	s, err := New(cfg)
	require.NoError(t, err)
	nearAll(t, []float64{0.1005038, 0.2284481, 0.3952862},
		[]float64{s.TrainSigma(0), s.TrainSigma(1), s.TrainSigma(2)}, "train sigmas")

	// squaredcos_cap_v2 with T=2: ᾱ(t) = cos²((t+0.008)/1.008·π/2);
	// ᾱ(0) = cos²(0.0124666) = 0.9998446, ᾱ(0.5) = cos²(0.7916315) = 0.4937668,
	// ᾱ(1) = cos²(π/2) = 0. β0 = 1 - 0.4937668/0.9998446 = 0.5061564;
	// β1 = 1 - 0/0.4937668 = 1, capped at 0.999.
	cfg.NumTrainTimesteps, cfg.BetaSchedule = 2, "squaredcos_cap_v2"
	nearAll(t, []float64{0.5061564, 0.999}, Betas(cfg), "squaredcos_cap_v2")
}

func TestTimestepSpacingByHand(t *testing.T) {
	cfg := DefaultConfig()
	cfg.NumTrainTimesteps = 10
	cases := []struct {
		spacing string
		offset  int
		steps   int
		want    []float64
		why     string
	}{
		{"leading", 1, 2, []float64{6, 1}, "ratio 10//2 = 5: arange(2)·5 = 0,5, reversed 5,0, +1"},
		{"trailing", 1, 2, []float64{9, 4}, "arange(10, 0, -5) = 10,5, -1; steps_offset unused"},
		{"linspace", 1, 2, []float64{9, 0}, "linspace(0, 9, 2) = 0,9 reversed; steps_offset unused"},
		{"leading", 1, 3, []float64{7, 4, 1}, "ratio 10//3 = 3: 0,3,6 reversed, +1"},
		{"trailing", 0, 3, []float64{9, 6, 2}, "arange(10, 0, -3.33) = 10, 6.67, 3.33, rounded 10,7,3, -1"},
		{"linspace", 0, 3, []float64{9, 4.5, 0}, "linspace(0, 9, 3) = 0, 4.5, 9 reversed"},
		{"trailing", 0, 1, []float64{9}, "arange(10, 0, -10) = 10, -1"},
		{"linspace", 0, 1, []float64{0}, "linspace(0, 9, 1) = 0 (diffusers' quirk)"},
	}
	for _, c := range cases {
		cfg.TimestepSpacing, cfg.StepsOffset = c.spacing, c.offset
		s, err := New(cfg)
		require.NoError(t, err)
		sch, err := s.Schedule(c.steps)
		require.NoError(t, err)
		require.Equal(t, c.want, sch.Timesteps, "%s %d steps: %s", c.spacing, c.steps, c.why)
		require.Len(t, sch.Sigmas, c.steps+1)
		require.Zero(t, sch.Sigmas[c.steps], "final sigma is 0")
	}

	// Fractional timesteps interpolate σ linearly: σ(4.5) = (σ4 + σ5)/2.
	cfg.TimestepSpacing = "linspace"
	s, err := New(cfg)
	require.NoError(t, err)
	sch, err := s.Schedule(3)
	require.NoError(t, err)
	near(t, (s.TrainSigma(4)+s.TrainSigma(5))/2, sch.Sigmas[1], "σ(4.5)")
	near(t, s.TrainSigma(9), sch.Sigmas[0], "σ(9)")
	near(t, s.TrainSigma(0), sch.Sigmas[2], "σ(0)")
}

// niceConfig has ᾱ = 0.8, 0.5, 0.2, 0.1, so σ = √((1-ᾱ)/ᾱ) = 0.5, 1, 2, 3:
// β0 = 1-0.8 = 0.2, β1 = 1-0.5/0.8 = 0.375, β2 = 1-0.2/0.5 = 0.6,
// β3 = 1-0.1/0.2 = 0.5.
func niceConfig(class, prediction, spacing string) Config {
	cfg := DefaultConfig()
	cfg.ClassName, cfg.PredictionType, cfg.TimestepSpacing = class, prediction, spacing
	cfg.NumTrainTimesteps = 4
	cfg.TrainedBetas = []float64{0.2, 0.375, 0.6, 0.5}
	cfg.StepsOffset = 1
	return cfg
}

func schedule(t *testing.T, cfg Config, steps int) *Schedule {
	t.Helper()
	s, err := New(cfg)
	require.NoError(t, err)
	nearAll(t, []float64{0.5, 1, 2, 3},
		[]float64{s.TrainSigma(0), s.TrainSigma(1), s.TrainSigma(2), s.TrainSigma(3)}, "train sigmas")
	sch, err := s.Schedule(steps)
	require.NoError(t, err)
	return sch
}

func TestScheduleByHand(t *testing.T) {
	// trailing, 2 steps: arange(4, 0, -2) = 4,2, -1 = 3,1, so σ = 3, 1, 0;
	// init_noise_sigma is max σ = 3 for trailing and linspace.
	sch := schedule(t, niceConfig(Euler, "epsilon", "trailing"), 2)
	require.Equal(t, []float64{3, 1}, sch.Timesteps)
	nearAll(t, []float64{3, 1, 0}, sch.Sigmas, "trailing sigmas")
	near(t, 3, sch.InitNoiseSigma, "trailing init sigma")
	// scale_model_input: x/√(σ²+1) = x/√10 at σ = 3.
	near(t, 1/math.Sqrt(10), sch.InputScale(0), "input scale")
	dst := make([]float32, 1)
	sch.ScaleModelInput(dst, []float32{math.Sqrt2 * 5}, 1) // σ = 1: x/√2
	near(t, 5, float64(dst[0]), "scaled input")

	// leading + offset 1: 4//2 = 2: 0,2 reversed, +1 = 3,1 again; but
	// init_noise_sigma = √(σmax²+1) = √10.
	sch = schedule(t, niceConfig(Euler, "epsilon", "leading"), 2)
	require.Equal(t, []float64{3, 1}, sch.Timesteps)
	near(t, math.Sqrt(10), sch.InitNoiseSigma, "leading init sigma")

	// linspace: linspace(0, 3, 2) = 0,3 reversed: σ = 3, 0.5, 0.
	sch = schedule(t, niceConfig(Euler, "epsilon", "linspace"), 2)
	require.Equal(t, []float64{3, 0}, sch.Timesteps)
	nearAll(t, []float64{3, 0.5, 0}, sch.Sigmas, "linspace sigmas")
}

func TestEulerStepByHand(t *testing.T) {
	// epsilon, σ = 3 → 1 → 0: x' = x + ε·(σ_next - σ).
	sch := schedule(t, niceConfig(Euler, "epsilon", "trailing"), 2)
	x := []float32{1, -2}
	require.NoError(t, sch.Step(0, x, []float32{0.5, 1}, nil))
	// 1 + 0.5·(1-3) = 0;  -2 + 1·(1-3) = -4.
	nearAll(t, []float64{0, -4}, f64(x), "epsilon step 0")
	require.NoError(t, sch.Step(1, x, []float32{0.5, -4}, nil))
	// 0 + 0.5·(0-1) = -0.5;  -4 + (-4)·(0-1) = 0 (a perfect ε prediction lands on x0 = 0).
	nearAll(t, []float64{-0.5, 0}, f64(x), "epsilon step 1")

	// v_prediction at σ = 3, x = 1, v = 0.5:
	// x0 = 0.5·(-3/√10) + 1/10 = -0.4743416 + 0.1 = -0.3743416,
	// (x - x0)/σ = 1.3743416/3 = 0.4581139, x' = 1 + 0.4581139·(1-3) = 0.0837722.
	sch = schedule(t, niceConfig(Euler, "v_prediction", "trailing"), 2)
	x = []float32{1}
	require.NoError(t, sch.Step(0, x, []float32{0.5}, nil))
	nearAll(t, []float64{0.0837722}, f64(x), "v step 0")
	// Last step (σ 1 → 0) returns x0: x = 2, v = 1: x0 = -1/√2 + 2/2 = 0.2928932.
	x = []float32{2}
	require.NoError(t, sch.Step(1, x, []float32{1}, nil))
	nearAll(t, []float64{0.2928932}, f64(x), "v last step")

	// sample prediction: the last step returns the model output itself.
	sch = schedule(t, niceConfig(Euler, "sample", "trailing"), 2)
	x = []float32{7}
	require.NoError(t, sch.Step(1, x, []float32{0.25}, nil))
	nearAll(t, []float64{0.25}, f64(x), "sample last step")
}

// fixedNoise returns the same value on every draw and counts draws.
type fixedNoise struct {
	v     float64
	draws int
}

func (n *fixedNoise) NormFloat64() float64 { n.draws++; return n.v }

func TestEulerAncestralStepByHand(t *testing.T) {
	sch := schedule(t, niceConfig(EulerAncestral, "epsilon", "trailing"), 2)
	// Step 0, σ = 3 → 1: σ_up = √(1·(9-1)/9) = √(8/9) = 0.9428090,
	// σ_down = √(1 - 8/9) = 1/3. x = 1, ε = 0.5, n = 1:
	// x' = 1 + 0.5·(1/3 - 3) + 0.9428090·1 = -1/3 + 0.9428090 = 0.6094757.
	noise := &fixedNoise{v: 1}
	x := []float32{1}
	require.NoError(t, sch.Step(0, x, []float32{0.5}, noise))
	nearAll(t, []float64{0.6094757}, f64(x), "ancestral step 0")
	// Step 1, σ = 1 → 0: σ_up = σ_down = 0, so x' = x0 = x - 1·ε, noise
	// drawn but unused: 0.6094757 - 0.5 = 0.1094757.
	require.NoError(t, sch.Step(1, x, []float32{0.5}, noise))
	nearAll(t, []float64{0.1094757}, f64(x), "ancestral last step")
	require.Equal(t, 2, noise.draws, "one draw per element per step")

	require.ErrorIs(t, sch.Step(0, x, []float32{0.5}, nil), errNoNoise)
}

// TestStableDiffusionValues checks the SD 1.x/2.x schedule (scaled_linear
// 0.00085..0.012, 1000 steps) against values known from diffusers and
// k-diffusion: σ_max = 14.614643 and σ_min = 0.0291675 (k-diffusion's
// sigma_max/sigma_min for SD, computed in float32), sd-turbo's timesteps
// (trailing) 999 for one step and 999, 749, 499, 249 for four, and SD 1.5's
// leading + steps_offset 1 timesteps 981 ... 1 for 50 steps.
func TestStableDiffusionValues(t *testing.T) {
	cfg := DefaultConfig()
	cfg.BetaSchedule, cfg.BetaStart, cfg.BetaEnd = "scaled_linear", 0.00085, 0.012
	cfg.TimestepSpacing, cfg.StepsOffset = "trailing", 1
	s, err := New(cfg)
	require.NoError(t, err)
	require.InEpsilon(t, 14.614643, s.TrainSigma(999), 1e-5)
	require.InEpsilon(t, 0.0291675, s.TrainSigma(0), 1e-4)

	one, err := s.Schedule(1)
	require.NoError(t, err)
	require.Equal(t, []float64{999}, one.Timesteps)
	require.InEpsilon(t, 14.614643, one.InitNoiseSigma, 1e-5)

	four, err := s.Schedule(4)
	require.NoError(t, err)
	require.Equal(t, []float64{999, 749, 499, 249}, four.Timesteps)

	cfg.TimestepSpacing = "leading"
	s, err = New(cfg)
	require.NoError(t, err)
	fifty, err := s.Schedule(50)
	require.NoError(t, err)
	require.Equal(t, 981.0, fifty.Timesteps[0])
	require.Equal(t, 1.0, fifty.Timesteps[49])
	sig := fifty.Sigmas[0]
	require.InDelta(t, math.Sqrt(sig*sig+1), fifty.InitNoiseSigma, 1e-9)
}

func TestLoadConfig(t *testing.T) {
	// SD 1.5 ships a PNDMScheduler config without timestep_spacing: loaded
	// into Euler it keeps Euler's default spacing (linspace) and samples with
	// plain Euler, as diffusers' from_config would.
	path := filepath.Join(t.TempDir(), "scheduler_config.json")
	body := `{"_class_name": "PNDMScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear",
		"beta_start": 0.00085, "num_train_timesteps": 1000, "set_alpha_to_one": false,
		"skip_prk_steps": true, "steps_offset": 1, "trained_betas": null, "prediction_type": null}`
	require.NoError(t, os.WriteFile(path, []byte(body), 0o644))
	cfg, err := LoadConfig(path)
	require.NoError(t, err)
	require.False(t, cfg.Ancestral())
	require.Equal(t, "linspace", cfg.TimestepSpacing)
	require.Equal(t, "epsilon", cfg.PredictionType)
	require.Nil(t, cfg.TrainedBetas)
	_, err = New(cfg)
	require.NoError(t, err)

	_, err = LoadConfig(filepath.Join(t.TempDir(), "missing.json"))
	require.Error(t, err)
}

func TestUnsupportedConfigs(t *testing.T) {
	for name, mutate := range map[string]func(*Config){
		"karras":           func(c *Config) { c.UseKarrasSigmas = true },
		"spacing":          func(c *Config) { c.TimestepSpacing = "sometimes" },
		"prediction":       func(c *Config) { c.PredictionType = "flow" },
		"continuous":       func(c *Config) { c.TimestepType = "continuous" },
		"zero snr":         func(c *Config) { c.RescaleZeroSNR = true },
		"log_linear":       func(c *Config) { c.InterpolationType = "log_linear" },
		"final sigma":      func(c *Config) { c.FinalSigmasType = "sigma_min" },
		"beta schedule":    func(c *Config) { c.BetaSchedule = "sigmoid" },
		"trained betas":    func(c *Config) { c.TrainedBetas = []float64{0.1} },
		"ancestral sample": func(c *Config) { c.ClassName, c.PredictionType = EulerAncestral, "sample" },
	} {
		cfg := DefaultConfig()
		mutate(&cfg)
		_, err := New(cfg)
		require.ErrorIs(t, err, ErrUnsupported, name)
	}

	s, err := New(DefaultConfig())
	require.NoError(t, err)
	for _, steps := range []int{0, 1001} {
		_, err := s.Schedule(steps)
		require.Error(t, err, "steps %d", steps)
	}
}

func f64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}
