package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"cyberimage/services/gpu-runner/internal/onnxpb"
	"cyberimage/services/gpu-runner/internal/ort"
)

// Folder layout and tensor names of an optimum Stable Diffusion ONNX export
// (optimum-cli export onnx --model runwayml/stable-diffusion-v1-5 ...).
const (
	sdTextEncoderFile = "text_encoder/model.onnx"
	sdUNetFile        = "unet/model.onnx"
	sdVAEDecoderFile  = "vae_decoder/model.onnx"
	sdVAEConfigFile   = "vae_decoder/config.json"
	sdTokenizerDir    = "tokenizer"
	sdSchedulerFile   = "scheduler/scheduler_config.json"

	sdInputIDs        = "input_ids"
	sdLastHidden      = "last_hidden_state"
	sdSample          = "sample"
	sdTimestep        = "timestep"
	sdEncoderHidden   = "encoder_hidden_states"
	sdOutSample       = "out_sample"
	sdLatentSample    = "latent_sample"
	sdDecodedSample   = "sample"
	sdDefaultScaling  = 0.18215 // SD 1.x/2.x VAE scaling factor
	sdDefaultChannels = 4
)

// valueRunner is an open model part; *ort.Session is one. Tests wrap it to
// watch the batches a part is run with.
type valueRunner interface {
	RunValues(ctx context.Context, inputs []ort.Value) ([]ort.Value, error)
	Close() error
}

// sdInputs is what the pipeline must know about how a particular export
// declares its inputs: exporters differ in token id and timestep types.
type sdInputs struct {
	ids            onnxpb.DataType // input_ids: int32 or int64
	timestep       onnxpb.ValueInfo
	latentChannels int
	seqLen         int // fixed input_ids length, or 0 when symbolic
}

// inspectSD reads the three graphs' declared inputs and outputs and rejects
// exports this pipeline cannot drive, before any weights are loaded.
func inspectSD(dir string) (sdInputs, error) {
	var in sdInputs
	text, textOut, err := onnxpb.ReadGraphIO(filepath.Join(dir, sdTextEncoderFile))
	if err != nil {
		return in, err
	}
	unet, unetOut, err := onnxpb.ReadGraphIO(filepath.Join(dir, sdUNetFile))
	if err != nil {
		return in, err
	}
	vae, vaeOut, err := onnxpb.ReadGraphIO(filepath.Join(dir, sdVAEDecoderFile))
	if err != nil {
		return in, err
	}
	var c ioCheck
	in.ids, in.seqLen = c.tokenIDs(text)
	c.need(textOut, "text encoder", sdLastHidden, "output")

	// SDXL UNets also take text_embeds and time_ids, LCM ones timestep_cond.
	for _, vi := range unet {
		if !slices.Contains([]string{sdSample, sdTimestep, sdEncoderHidden}, vi.Name) {
			c.bad("UNet input %q is not supported (SDXL, LCM and other UNets with extra conditioning are not)", vi.Name)
		}
	}
	in.latentChannels = c.latentChannels(unet)
	in.timestep = c.timestep(unet)
	c.need(unet, "UNet", sdEncoderHidden, "input")
	c.need(unetOut, "UNet", sdOutSample, "output")
	if lat, ok := findIO(vae, sdLatentSample); !ok || lat.Type != onnxpb.Float {
		c.bad("VAE decoder has no float32 %s input", sdLatentSample)
	}
	c.need(vaeOut, "VAE decoder", sdDecodedSample, "output")
	if err := errors.Join(c.problems...); err != nil {
		return in, fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	return in, nil
}

// ioCheck collects every problem found in an export's graphs, so that one
// error names them all instead of one per attempt.
type ioCheck struct{ problems []error }

func (c *ioCheck) bad(format string, args ...any) {
	c.problems = append(c.problems, fmt.Errorf(format, args...))
}

// need finds the input or output (kind) name among a part's vs, reporting
// it when missing.
func (c *ioCheck) need(vs []onnxpb.ValueInfo, part, name, kind string) (onnxpb.ValueInfo, bool) {
	v, ok := findIO(vs, name)
	if !ok {
		c.bad("%s has no %s %s", part, name, kind)
	}
	return v, ok
}

// tokenIDs checks the text encoder's input_ids: their integer type, and
// their length when the export fixes it (0 when symbolic).
func (c *ioCheck) tokenIDs(text []onnxpb.ValueInfo) (onnxpb.DataType, int) {
	ids, ok := c.need(text, "text encoder", sdInputIDs, "input")
	if !ok {
		return onnxpb.Undefined, 0
	}
	if ids.Type != onnxpb.Int32 && ids.Type != onnxpb.Int64 {
		c.bad("text encoder %s is %v, want int32 or int64", sdInputIDs, ids.Type)
		return onnxpb.Undefined, 0
	}
	if len(ids.Dims) == 2 && ids.Dims[1].Fixed() {
		return ids.Type, int(ids.Dims[1].Value)
	}
	return ids.Type, 0
}

// latentChannels checks the UNet's float32 sample and returns its channel
// count, SD's 4 when the export leaves it symbolic.
func (c *ioCheck) latentChannels(unet []onnxpb.ValueInfo) int {
	sample, ok := c.need(unet, "UNet", sdSample, "input")
	if !ok {
		return 0
	}
	if sample.Type != onnxpb.Float {
		c.bad("UNet %s is %v; only float32 exports are supported", sdSample, sample.Type)
		return 0
	}
	if len(sample.Dims) == 4 && sample.Dims[1].Fixed() {
		return int(sample.Dims[1].Value)
	}
	return sdDefaultChannels
}

// timestep checks the UNet's timestep input: float32 or int64, a scalar or
// of rank 1.
func (c *ioCheck) timestep(unet []onnxpb.ValueInfo) onnxpb.ValueInfo {
	ts, ok := c.need(unet, "UNet", sdTimestep, "input")
	if !ok {
		return onnxpb.ValueInfo{}
	}
	if ts.Type != onnxpb.Float && ts.Type != onnxpb.Int64 {
		c.bad("UNet %s is %v, want float32 or int64", sdTimestep, ts.Type)
		return onnxpb.ValueInfo{}
	}
	if !ts.NoShape && len(ts.Dims) > 1 {
		c.bad("UNet %s has rank %d, want 0 or 1", sdTimestep, len(ts.Dims))
		return onnxpb.ValueInfo{}
	}
	return ts
}

func findIO(vs []onnxpb.ValueInfo, name string) (onnxpb.ValueInfo, bool) {
	for _, v := range vs {
		if v.Name == name {
			return v, true
		}
	}
	return onnxpb.ValueInfo{}, false
}

// timestepValue builds the UNet's timestep input for timestep t the way the
// export declares it: a scalar (current optimum), or [1] for a rank-1 input
// of symbolic size, which is what diffusers' and optimum's ONNX pipelines
// feed such exports (the UNet expands it over the batch), or n copies for a
// fixed size n. int64 exports get t truncated, as numpy's astype does.
func (in sdInputs) timestepValue(t float64) ort.Value {
	n := int64(1)
	scalar := !in.timestep.NoShape && len(in.timestep.Dims) == 0
	if !scalar && len(in.timestep.Dims) == 1 && in.timestep.Dims[0].Fixed() {
		n = in.timestep.Dims[0].Value
	}
	if in.timestep.Type == onnxpb.Int64 {
		if scalar {
			return ort.Scalar(int64(t))
		}
		return ort.TensorOf[int64]{Shape: []int64{n}, Data: repeat(int64(t), n)}
	}
	if scalar {
		return ort.Scalar(float32(t))
	}
	return ort.TensorOf[float32]{Shape: []int64{n}, Data: repeat(float32(t), n)}
}

// idsValue builds input_ids [rows, seqLen] in the export's integer type.
func (in sdInputs) idsValue(ids []int, rows int) ort.Value {
	shape := []int64{int64(rows), int64(len(ids) / rows)}
	if in.ids == onnxpb.Int32 {
		data := make([]int32, len(ids))
		for i, v := range ids {
			data[i] = int32(v)
		}
		return ort.TensorOf[int32]{Shape: shape, Data: data}
	}
	data := make([]int64, len(ids))
	for i, v := range ids {
		data[i] = int64(v)
	}
	return ort.TensorOf[int64]{Shape: shape, Data: data}
}

func repeat[T any](v T, n int64) []T {
	out := make([]T, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// readScalingFactor returns the VAE's scaling_factor from
// vae_decoder/config.json (optimum copies the diffusers VAE config there),
// or SD's 0.18215 when the file or the field is missing.
func readScalingFactor(dir string) (float64, error) {
	data, err := os.ReadFile(filepath.Join(dir, sdVAEConfigFile))
	if errors.Is(err, fs.ErrNotExist) {
		return sdDefaultScaling, nil
	}
	if err != nil {
		return 0, err
	}
	var cfg struct {
		ScalingFactor *float64 `json:"scaling_factor"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return 0, fmt.Errorf("%s: %w", sdVAEConfigFile, err)
	}
	if cfg.ScalingFactor == nil {
		return sdDefaultScaling, nil
	}
	if !(*cfg.ScalingFactor > 0) {
		return 0, fmt.Errorf("%s: scaling_factor %v: %w", sdVAEConfigFile, *cfg.ScalingFactor, ErrUnsupported)
	}
	return *cfg.ScalingFactor, nil
}
