package sdmodel

import (
	"math"

	"cyberimage/services/gpu-runner/internal/onnxpb"
)

// Channel widths of the tiny UNet and VAE decoder, and the number of
// timestep frequencies.
const (
	unetWidth = 16
	vaeWidth  = 16
	timeFreqs = 8
)

// textEncoder stands in for CLIP's text transformer:
//
//	x    = token_embedding[input_ids] + position_embedding    [B,S,H]
//	ctx  = mean over the sequence of x                          [B,1,H]  (every token sees the whole prompt, as attention would)
//	h    = Tanh(x·Wt + ctx·Wc + b1)
//	last_hidden_state = Tanh(h·Wo + b2)                         [B,S,H]
//	pooler_output     = mean over the sequence of last          [B,H]
//
// input_ids is int32 or int64 [batch_size, sequence_length], as optimum
// declares it; Gather takes either.
func textEncoder(cfg Config, vocabSize int) []byte {
	b := newBuilder("tiny_clip_text", cfg.Seed, streamText)
	const h = Hidden
	x := b.node("Gather", "embeds", in(b.gauss("token_embedding", 1, int64(vocabSize), h), InputIDs), onnxpb.AttrInt("axis", 0))
	x = b.node("Add", "embeds_pos", in(x, b.gauss("position_embedding", 0.5, SeqLen, h)))
	ctx := b.node("ReduceMean", "context", in(x), onnxpb.AttrInts("axes", 1), onnxpb.AttrInt("keepdims", 1))
	xt := b.node("MatMul", "token_proj", in(x, b.gauss("w_token", fanIn(1.5, h), h, h)))
	xc := b.node("MatMul", "context_proj", in(ctx, b.gauss("w_context", fanIn(3, h), h, h)))
	mix := b.node("Add", "mix", in(xt, xc))
	mix = b.node("Add", "mix_bias", in(mix, b.gauss("b_mix", 0.3, h)))
	hid := b.node("Tanh", "hidden", in(mix))
	out := b.node("MatMul", "out_proj", in(hid, b.gauss("w_out", fanIn(1.5, h), h, h)))
	out = b.node("Add", "out_bias", in(out, b.gauss("b_out", 0.3, h)))
	b.node("Tanh", LastHiddenState, in(out))
	b.node("ReduceMean", PoolerOutput, in(LastHiddenState), onnxpb.AttrInts("axes", 1), onnxpb.AttrInt("keepdims", 0))

	b.g.Inputs = []onnxpb.ValueInfo{
		{Name: InputIDs, Type: cfg.IDType, Dims: []onnxpb.Dim{onnxpb.Sym("batch_size"), onnxpb.Sym("sequence_length")}},
	}
	b.g.Outputs = []onnxpb.ValueInfo{
		{Name: LastHiddenState, Type: onnxpb.Float, Dims: []onnxpb.Dim{onnxpb.Sym("batch_size"), onnxpb.Sym("sequence_length"), onnxpb.Fix(h)}},
		{Name: PoolerOutput, Type: onnxpb.Float, Dims: []onnxpb.Dim{onnxpb.Sym("batch_size"), onnxpb.Fix(h)}},
	}
	return model(b.g)
}

// unet stands in for the denoising UNet:
//
//	temb = [sin(t·ω), cos(t·ω)]·Wt        per timestep value, ω_k = 1000^(-k/F)
//	cemb = mean over tokens of encoder_hidden_states · Wc
//	h    = Tanh(Conv3x3(sample) + temb + cemb)
//	out_sample = Conv1x1(h)                         [B,4,h,w]
//
// The timestep is reshaped to [-1, 1] first, so a scalar, [1] or [batch]
// timestep all broadcast over the batch, as the real UNet's expand does.
func unet(cfg Config) []byte {
	b := newBuilder("tiny_unet", cfg.Seed, streamUNet)
	const c, hdim = unetWidth, Hidden
	shapeCol := b.ints("shape_column", []int64{-1, 1}, 2)
	shapeChan := b.ints("shape_channels", []int64{-1, c, 1, 1}, 4)
	freqs := make([]float32, timeFreqs)
	for k := range freqs {
		freqs[k] = float32(math.Pow(1000, -float64(k)/timeFreqs))
	}

	t := b.node("Cast", "t_float", in(Timestep), onnxpb.AttrInt("to", int64(onnxpb.Float)))
	t = b.node("Reshape", "t_column", in(t, shapeCol))
	t = b.node("Mul", "t_angles", in(t, b.floats("t_freqs", freqs, 1, timeFreqs)))
	sin := b.node("Sin", "t_sin", in(t))
	cos := b.node("Cos", "t_cos", in(t))
	t = b.node("Concat", "t_features", in(sin, cos), onnxpb.AttrInt("axis", 1))
	t = b.node("MatMul", "t_proj", in(t, b.gauss("w_time", fanIn(1, 2*timeFreqs), 2*timeFreqs, c)))
	temb := b.node("Reshape", "t_emb", in(t, shapeChan))

	cond := b.node("ReduceMean", "text_mean", in(EncoderHiddenStates), onnxpb.AttrInts("axes", 1), onnxpb.AttrInt("keepdims", 0))
	cond = b.node("MatMul", "text_proj", in(cond, b.gauss("w_text", fanIn(4, hdim), hdim, c)))
	cemb := b.node("Reshape", "text_emb", in(cond, shapeChan))

	x := b.node("Conv", "conv_in", in(Sample, b.gauss("w_conv_in", fanIn(1, 4*9), c, 4, 3, 3), b.gauss("b_conv_in", 0.1, c)),
		onnxpb.AttrInts("kernel_shape", 3, 3), onnxpb.AttrInts("pads", 1, 1, 1, 1))
	x = b.node("Add", "add_time", in(x, temb))
	x = b.node("Add", "add_text", in(x, cemb))
	x = b.node("Tanh", "features", in(x))
	b.node("Conv", OutSample, in(x, b.gauss("w_conv_out", fanIn(1, c), 4, c, 1, 1), b.gauss("b_conv_out", 0.05, 4)),
		onnxpb.AttrInts("kernel_shape", 1, 1))

	spatial := []onnxpb.Dim{onnxpb.Sym("batch_size"), onnxpb.Fix(LatentChannels), onnxpb.Sym("height"), onnxpb.Sym("width")}
	b.g.Inputs = []onnxpb.ValueInfo{
		{Name: Sample, Type: onnxpb.Float, Dims: spatial},
		timestepInfo(cfg.Timestep),
		{Name: EncoderHiddenStates, Type: onnxpb.Float, Dims: []onnxpb.Dim{onnxpb.Sym("batch_size"), onnxpb.Sym("sequence_length"), onnxpb.Fix(hdim)}},
	}
	b.g.Outputs = []onnxpb.ValueInfo{{Name: OutSample, Type: onnxpb.Float, Dims: spatial}}
	return model(b.g)
}

func timestepInfo(kind TimestepInput) onnxpb.ValueInfo {
	switch kind {
	case TimestepInt64Steps:
		return onnxpb.ValueInfo{Name: Timestep, Type: onnxpb.Int64, Dims: []onnxpb.Dim{onnxpb.Sym("steps")}}
	case TimestepFloatBatch:
		return onnxpb.ValueInfo{Name: Timestep, Type: onnxpb.Float, Dims: []onnxpb.Dim{onnxpb.Sym("batch")}}
	default:
		return onnxpb.ValueInfo{Name: Timestep, Type: onnxpb.Float}
	}
}

// vaeDecoder stands in for the VAE decoder: a 3x3 conv on the latent,
// bilinear ×8 upsampling, a 3x3 conv to RGB and Tanh, so the picture is in
// [-1, 1] like the real decoder's and 8× the latent per side.
func vaeDecoder(cfg Config) []byte {
	b := newBuilder("tiny_vae_decoder", cfg.Seed, streamVAE)
	const v = vaeWidth
	pads := onnxpb.AttrInts("pads", 1, 1, 1, 1)
	k3 := onnxpb.AttrInts("kernel_shape", 3, 3)
	x := b.node("Conv", "conv_latent", in(LatentSample, b.gauss("w_latent", fanIn(0.25, 4*9), v, 4, 3, 3), b.gauss("b_latent", 0.3, v)), k3, pads)
	x = b.node("Tanh", "latent_features", in(x))
	// "" skips Resize's optional roi input.
	x = b.node("Resize", "upsampled", in(x, "", b.floats("scales", []float32{1, 1, VAEScale, VAEScale}, 4)),
		onnxpb.AttrString("mode", "linear"))
	x = b.node("Conv", "conv_rgb", in(x, b.gauss("w_rgb", fanIn(1.0, v*9), 3, v, 3, 3), b.gauss("b_rgb", 0.2, 3)), k3, pads)
	b.node("Tanh", DecodedSample, in(x))

	b.g.Inputs = []onnxpb.ValueInfo{{Name: LatentSample, Type: onnxpb.Float, Dims: []onnxpb.Dim{
		onnxpb.Sym("batch_size"), onnxpb.Fix(LatentChannels), onnxpb.Sym("latent_height"), onnxpb.Sym("latent_width")}}}
	b.g.Outputs = []onnxpb.ValueInfo{{Name: DecodedSample, Type: onnxpb.Float, Dims: []onnxpb.Dim{
		onnxpb.Sym("batch_size"), onnxpb.Fix(3), onnxpb.Sym("latent_height * 8"), onnxpb.Sym("latent_width * 8")}}}
	return model(b.g)
}
