// Package sdmodel generates tiny-sd: a Stable Diffusion model folder in the
// layout of Hugging Face optimum's ONNX export (text_encoder, unet,
// vae_decoder, tokenizer, scheduler) whose graphs have the real exports'
// input and output names, dtypes and symbolic shapes but a handful of cheap
// ops with random weights. It exercises the stable-diffusion pipeline end to
// end with real ONNX Runtime in milliseconds, and without downloading
// gigabytes of weights. Pictures are abstract colour fields, not prompts.
package sdmodel

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"cyberimage/services/gpu-runner/internal/onnxpb"
	"cyberimage/shared/job"
)

// DefaultSeed is the weight seed of the committed infra/models/tiny-sd.
const DefaultSeed uint64 = 20260601

// Sizes of the tiny model. SeqLen and LatentChannels are what real SD 1.x/2.x
// exports use; Hidden stands in for CLIP's 768 (SD 1.x) or 1024 (SD 2.x).
const (
	SeqLen         = 77
	Hidden         = 32
	LatentChannels = 4
	// VAEScale is how much larger the picture is than the latent, per side.
	VAEScale = 8
	// ScalingFactor is SD's VAE scaling factor, written to vae_decoder/config.json.
	ScalingFactor = 0.18215
)

// Tensor names, as optimum exports them: text_encoder InputIDs →
// LastHiddenState, PoolerOutput; unet Sample, Timestep, EncoderHiddenStates →
// OutSample; vae_decoder LatentSample → DecodedSample.
const (
	InputIDs            = "input_ids"
	LastHiddenState     = "last_hidden_state"
	PoolerOutput        = "pooler_output"
	Sample              = "sample"
	Timestep            = "timestep"
	EncoderHiddenStates = "encoder_hidden_states"
	OutSample           = "out_sample"
	LatentSample        = "latent_sample"
	DecodedSample       = "sample"
)

// irVersion 8 and opset 17, as the demo model: old enough for any recent
// ORT, new enough for every op used (ReduceMean still takes axes as an
// attribute in opset 17).
const (
	irVersion    = 8
	opsetVersion = 17
	producerName = "cyberimage-sdmodel"
)

// TimestepInput is how a UNet export declares its timestep input; exporters
// have disagreed over the years.
type TimestepInput int

const (
	// TimestepFloatScalar is float32 of rank 0: optimum since the
	// "timestep": {} dynamic axes (current optimum-onnx).
	TimestepFloatScalar TimestepInput = iota
	// TimestepInt64Steps is int64 [steps]: older optimum ("timestep": {0: "steps"}).
	TimestepInt64Steps
	// TimestepFloatBatch is float32 [batch]: diffusers'
	// convert_stable_diffusion_checkpoint_to_onnx.py.
	TimestepFloatBatch
)

// Config selects the variant to generate.
type Config struct {
	// Seed selects the weights.
	Seed uint64
	// IDType is input_ids' dtype: onnxpb.Int64 (current optimum) or
	// onnxpb.Int32 (older optimum and diffusers' script).
	IDType onnxpb.DataType
	// Timestep is the UNet's timestep declaration.
	Timestep TimestepInput
	// Scheduler is scheduler_config.json's _class_name.
	Scheduler string
}

// DefaultConfig is the committed model: the layout current optimum writes.
func DefaultConfig() Config {
	return Config{Seed: DefaultSeed, IDType: onnxpb.Int64, Timestep: TimestepFloatScalar, Scheduler: "EulerDiscreteScheduler"}
}

// File is one file of the model folder.
type File struct {
	Path string // slash-separated, relative to the folder
	Data []byte
}

// Files returns every file of the model folder in a fixed order. The output
// is deterministic byte for byte.
func Files(cfg Config) ([]File, error) {
	if cfg.IDType != onnxpb.Int32 && cfg.IDType != onnxpb.Int64 {
		return nil, fmt.Errorf("sdmodel: input_ids type %v, want int32 or int64", cfg.IDType)
	}
	voc := buildVocab()
	files := []File{
		{"manifest.json", manifest()},
		{"scheduler/scheduler_config.json", schedulerConfig(cfg.Scheduler)},
		{"text_encoder/model.onnx", textEncoder(cfg, len(voc.tokens))},
		{"tokenizer/merges.txt", voc.mergesTxt()},
		{"tokenizer/tokenizer_config.json", tokenizerConfig()},
		{"tokenizer/vocab.json", voc.vocabJSON()},
		{"unet/model.onnx", unet(cfg)},
		{"vae_decoder/config.json", vaeConfig()},
		{"vae_decoder/model.onnx", vaeDecoder(cfg)},
	}
	return files, nil
}

// Write writes the model folder to dir, creating it as needed.
func Write(dir string, cfg Config) error {
	files, err := Files(cfg)
	if err != nil {
		return err
	}
	for _, f := range files {
		path := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, f.Data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// manifest is a struct, not a map, to keep the demo manifest's field order.
func manifest() []byte {
	type steps struct {
		Min     int `json:"min"`
		Max     int `json:"max"`
		Default int `json:"default"`
	}
	type guidance struct {
		Default float64 `json:"default"`
	}
	return mustJSON(struct {
		Name        string     `json:"name"`
		Pipeline    string     `json:"pipeline"`
		Description string     `json:"description"`
		File        string     `json:"file"`
		Steps       steps      `json:"steps"`
		Guidance    guidance   `json:"guidance"`
		Memory      job.Memory `json:"memory"`
	}{
		Name:     "tiny-sd",
		Pipeline: "stable-diffusion",
		Description: "Tiny random-weight model in the layout of an optimum Stable Diffusion ONNX export " +
			"(text_encoder, unet, vae_decoder, tokenizer, scheduler) with the real tensor names and dtypes; " +
			"abstract pictures in milliseconds, for tests and demos. Generated by services/gpu-runner/cmd/gen-tiny-sd.",
		File:     "unet/model.onnx",
		Steps:    steps{Min: 1, Max: 50, Default: 4},
		Guidance: guidance{Default: 7.5},
		// Measured peak RSS growth (VmHWM) of the pipeline on the CPU:
		// about 130 B per pixel for one image (the VAE decoder at full
		// resolution), 15–25 B more per extra image, 2048×2048 at 0.5 GB.
		Memory: job.Memory{FixedMB: 8, BytesPerPixel: 16, BytesPerPixelOnce: 120, GuidanceFactor: 2},
	})
}

// schedulerConfig is SD's training schedule, as in SD 1.x/2.x configs.
func schedulerConfig(class string) []byte {
	return mustJSON(map[string]any{
		"_class_name":         class,
		"beta_end":            0.012,
		"beta_schedule":       "scaled_linear",
		"beta_start":          0.00085,
		"interpolation_type":  "linear",
		"num_train_timesteps": 1000,
		"prediction_type":     "epsilon",
		"steps_offset":        1,
		"timestep_spacing":    "trailing",
		"trained_betas":       nil,
		"use_karras_sigmas":   false,
	})
}

func tokenizerConfig() []byte {
	return mustJSON(map[string]any{
		"bos_token":        "<|startoftext|>",
		"do_lower_case":    true,
		"eos_token":        "<|endoftext|>",
		"model_max_length": SeqLen,
		"pad_token":        "<|endoftext|>",
		"tokenizer_class":  "CLIPTokenizer",
		"unk_token":        "<|endoftext|>",
	})
}

func vaeConfig() []byte {
	return mustJSON(map[string]any{
		"_class_name":     "AutoencoderKL",
		"latent_channels": LatentChannels,
		"out_channels":    3,
		"scaling_factor":  ScalingFactor,
	})
}

// mustJSON encodes v indented, keys sorted (maps), no HTML escaping so the
// special tokens stay readable.
func mustJSON(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		panic(fmt.Sprintf("sdmodel: encode json: %v", err))
	}
	return b.Bytes()
}

// model wraps a graph in a ModelProto with the package's versions.
func model(g onnxpb.Graph) []byte {
	m := onnxpb.Model{IRVersion: irVersion, ProducerName: producerName, Opset: opsetVersion, Graph: g}
	return m.Marshal()
}
