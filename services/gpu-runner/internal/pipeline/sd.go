package pipeline

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"

	"cyberimage/services/gpu-runner/internal/clip"
	"cyberimage/services/gpu-runner/internal/ort"
	"cyberimage/services/gpu-runner/internal/scheduler"
	"cyberimage/shared/job"
)

// PCG stream words of the per-image random numbers: the initial latents
// and the ancestral sampler's noise. Fixed, so one seed names one picture.
const (
	sdLatentStream uint64 = 0x5d1a7e47
	sdNoiseStream  uint64 = 0x5d40153
)

// sdVAEFactor is how many pixels one latent cell spans per side in SD's VAE.
const sdVAEFactor = 8

// StableDiffusion runs a latent diffusion model exported to ONNX in
// optimum's folder layout (SD 1.x, SD 2.x, sd-turbo, tiny-sd and other
// UNet2DCondition models with a CLIP text encoder): CLIP tokenizer, text
// encoder, Euler or Euler-ancestral sampling with classifier-free guidance,
// VAE decoder. It is safe for concurrent use.
type StableDiffusion struct {
	tokenizer *clip.Tokenizer
	sched     *scheduler.Scheduler
	inputs    sdInputs
	scaling   float64

	text, unet, vae valueRunner
}

// sdImage is what makes one picture of a batch differ from the others.
type sdImage struct {
	prompt, negative string
	seed             int64
}

// OpenStableDiffusion loads the model folder dir (see the sd* file
// constants). An export this pipeline cannot drive (SDXL's extra UNet
// inputs, float16 weights, an unsupported scheduler config) fails with
// ErrUnsupported.
func OpenStableDiffusion(dir string, opts ort.Options) (*StableDiffusion, error) {
	in, err := inspectSD(dir)
	if err != nil {
		return nil, fmt.Errorf("stable diffusion %s: %w", dir, err)
	}
	tok, err := clip.Load(filepath.Join(dir, sdTokenizerDir))
	if err != nil {
		return nil, fmt.Errorf("stable diffusion %s: %w", dir, err)
	}
	if in.seqLen != 0 && in.seqLen != tok.MaxLength() {
		return nil, fmt.Errorf("stable diffusion %s: text encoder takes %d tokens, tokenizer makes %d: %w",
			dir, in.seqLen, tok.MaxLength(), ErrUnsupported)
	}
	cfg, err := scheduler.LoadConfig(filepath.Join(dir, sdSchedulerFile))
	if err != nil {
		return nil, fmt.Errorf("stable diffusion %s: %w", dir, err)
	}
	sched, err := scheduler.New(cfg)
	if errors.Is(err, scheduler.ErrUnsupported) {
		err = fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	if err != nil {
		return nil, fmt.Errorf("stable diffusion %s: %w", dir, err)
	}
	scaling, err := readScalingFactor(dir)
	if err != nil {
		return nil, fmt.Errorf("stable diffusion %s: %w", dir, err)
	}
	sd := &StableDiffusion{tokenizer: tok, sched: sched, inputs: in, scaling: scaling}
	parts := []struct {
		dst      *valueRunner
		file     string
		in, outs []string
	}{
		{&sd.text, sdTextEncoderFile, []string{sdInputIDs}, []string{sdLastHidden}},
		{&sd.unet, sdUNetFile, []string{sdSample, sdTimestep, sdEncoderHidden}, []string{sdOutSample}},
		{&sd.vae, sdVAEDecoderFile, []string{sdLatentSample}, []string{sdDecodedSample}},
	}
	for _, p := range parts {
		s, err := ort.Open(filepath.Join(dir, p.file), p.in, p.outs, opts)
		if err != nil {
			_ = sd.Close()
			return nil, fmt.Errorf("stable diffusion %s: %w", dir, err)
		}
		*p.dst = s
	}
	return sd, nil
}

// Close releases the three sessions after runs in progress end.
func (s *StableDiffusion) Close() error {
	var errs []error
	for _, r := range []valueRunner{s.text, s.unet, s.vae} {
		if r != nil {
			errs = append(errs, r.Close())
		}
	}
	return errors.Join(errs...)
}

// Generate makes spec.NumImages pictures; image i uses seed spec.Seed+i, so
// it is the picture a one-image job with that seed gets.
func (s *StableDiffusion) Generate(ctx context.Context, spec job.Spec, progress Progress) ([]Image, error) {
	return generateOne(ctx, s, spec, progress)
}

// GenerateBatch runs the images of several jobs that share size, steps and
// guidance (their BatchKey) through the same model runs; prompts and seeds
// may differ.
func (s *StableDiffusion) GenerateBatch(ctx context.Context, specs []job.Spec, progress Progress) ([][]Image, error) {
	if len(specs) == 0 {
		return nil, nil
	}
	first := specs[0]
	var imgs []sdImage
	for _, sp := range specs {
		if sp.Width != first.Width || sp.Height != first.Height || sp.Steps != first.Steps || sp.Guidance != first.Guidance {
			return nil, errors.New("stable diffusion: batch mixes sizes, steps or guidance")
		}
		for i := range sp.NumImages {
			imgs = append(imgs, sdImage{prompt: sp.Prompt, negative: sp.NegativePrompt, seed: sp.Seed + int64(i)})
		}
	}
	pics, err := s.generate(ctx, first.Width, first.Height, first.Steps, first.Guidance, imgs, progress)
	if err != nil {
		return nil, err
	}
	perJob := make([][]Image, len(specs))
	for i, sp := range specs {
		perJob[i], pics = pics[:sp.NumImages], pics[sp.NumImages:]
	}
	return perJob, nil
}

// generate is the sampling loop of diffusers' StableDiffusionPipeline.
// With guidance > 1 every UNet run carries the unconditional (negative
// prompt) half and the conditional half of the batch together, 2·B rows,
// and the noise estimate is uncond + guidance·(cond − uncond); otherwise
// (turbo models, guidance 0) it runs B rows of the prompt only.
func (s *StableDiffusion) generate(ctx context.Context, w, h, steps int, guidance float64, imgs []sdImage, progress Progress) ([]Image, error) {
	if w <= 0 || h <= 0 || w%sdVAEFactor != 0 || h%sdVAEFactor != 0 {
		return nil, fmt.Errorf("stable diffusion: %dx%d is not a positive multiple of %d: %w", w, h, sdVAEFactor, ErrUnsupported)
	}
	if len(imgs) == 0 {
		return nil, errors.New("stable diffusion: no images requested")
	}
	sch, err := s.sched.Schedule(steps)
	if err != nil {
		return nil, fmt.Errorf("stable diffusion: %w: %w", ErrUnsupported, err)
	}
	guided := guidance > 1
	cond, err := s.encodePrompts(ctx, imgs, guided)
	if err != nil {
		return nil, err
	}

	b, c, lh, lw := len(imgs), s.inputs.latentChannels, h/sdVAEFactor, w/sdVAEFactor
	per := c * lh * lw
	latents, noise := initialLatents(imgs, per, sch.InitNoiseSigma)

	rows := b
	if guided {
		rows = 2 * b
	}
	input := make([]float32, rows*per)
	shape := []int64{int64(rows), int64(c), int64(lh), int64(lw)}
	for i := range sch.Steps() {
		if err := ctx.Err(); err != nil { // a cancel from progress lands here, not in ORT
			return nil, fmt.Errorf("stable diffusion: before step %d: %w", i+1, err)
		}
		sch.ScaleModelInput(input[:b*per], latents, i)
		if guided {
			copy(input[b*per:], input[:b*per])
		}
		out, err := s.unet.RunValues(ctx, []ort.Value{
			ort.Tensor{Shape: shape, Data: input},
			s.inputs.timestepValue(sch.Timesteps[i]),
			cond,
		})
		if err != nil {
			return nil, fmt.Errorf("stable diffusion: unet step %d: %w", i+1, err)
		}
		eps, ok := out[0].(ort.Tensor)
		if !ok || len(eps.Data) != rows*per {
			return nil, fmt.Errorf("stable diffusion: unet output %v, want %d float32 values", shapeOf(out[0]), rows*per)
		}
		e := eps.Data
		if guided {
			g := float32(guidance)
			for j := range b * per {
				e[j] += g * (e[b*per+j] - e[j])
			}
		}
		for k := range b {
			if err := sch.Step(i, latents[k*per:(k+1)*per], e[k*per:(k+1)*per], noise[k]); err != nil {
				return nil, err
			}
		}
		if progress != nil {
			progress(i+1, sch.Steps())
		}
	}

	pics := make([]Image, b)
	for k := range b {
		pic, err := s.decode(ctx, latents[k*per:(k+1)*per], c, lh, lw)
		if err != nil {
			return nil, err
		}
		pics[k] = pic
	}
	return pics, nil
}

// initialLatents draws each image's starting latents, N(0, 1)·initSigma,
// and its ancestral noise source, both from its own seed only: an image is
// the same whichever batch, or position in it, it is generated in.
func initialLatents(imgs []sdImage, per int, initSigma float64) ([]float32, []scheduler.Noise) {
	latents := make([]float32, len(imgs)*per)
	noise := make([]scheduler.Noise, len(imgs))
	for i, im := range imgs {
		rng := rand.New(rand.NewPCG(uint64(im.seed), sdLatentStream))
		for j := range per {
			latents[i*per+j] = float32(rng.NormFloat64() * initSigma)
		}
		noise[i] = rand.New(rand.NewPCG(uint64(im.seed), sdNoiseStream))
	}
	return latents, noise
}

// encodePrompts runs the text encoder once over the distinct prompts and
// returns encoder_hidden_states for the UNet: the negative prompts' rows
// first, then the prompts', when guided (diffusers' order); the prompts'
// alone otherwise.
func (s *StableDiffusion) encodePrompts(ctx context.Context, imgs []sdImage, guided bool) (ort.Tensor, error) {
	var texts []string
	if guided {
		for _, im := range imgs {
			texts = append(texts, im.negative)
		}
	}
	for _, im := range imgs {
		texts = append(texts, im.prompt)
	}
	row := map[string]int{}
	var unique []string
	for _, t := range texts {
		if _, ok := row[t]; !ok {
			row[t] = len(unique)
			unique = append(unique, t)
		}
	}
	seq := s.tokenizer.MaxLength()
	ids := make([]int, 0, len(unique)*seq)
	for _, t := range unique {
		ids = append(ids, s.tokenizer.Encode(t)...)
	}
	out, err := s.text.RunValues(ctx, []ort.Value{s.inputs.idsValue(ids, len(unique))})
	if err != nil {
		return ort.Tensor{}, fmt.Errorf("stable diffusion: text encoder: %w", err)
	}
	hidden, ok := out[0].(ort.Tensor)
	if !ok || len(hidden.Shape) != 3 || hidden.Shape[0] != int64(len(unique)) || hidden.Shape[1] != int64(seq) {
		return ort.Tensor{}, fmt.Errorf("stable diffusion: text encoder output %v, want [%d, %d, hidden]", shapeOf(out[0]), len(unique), seq)
	}
	per := int(hidden.Shape[1] * hidden.Shape[2])
	data := make([]float32, 0, len(texts)*per)
	for _, t := range texts {
		r := row[t]
		data = append(data, hidden.Data[r*per:(r+1)*per]...)
	}
	return ort.Tensor{Shape: []int64{int64(len(texts)), hidden.Shape[1], hidden.Shape[2]}, Data: data}, nil
}

// decode turns one image's latents into RGB. Images are decoded one at a
// time: the VAE decoder's activations at full resolution are the largest
// of the pipeline, and one image's worth bounds the memory a batch needs.
func (s *StableDiffusion) decode(ctx context.Context, latent []float32, c, lh, lw int) (Image, error) {
	scaled := make([]float32, len(latent))
	inv := 1 / s.scaling
	for i, v := range latent {
		scaled[i] = float32(float64(v) * inv)
	}
	out, err := s.vae.RunValues(ctx, []ort.Value{ort.Tensor{Shape: []int64{1, int64(c), int64(lh), int64(lw)}, Data: scaled}})
	if err != nil {
		return Image{}, fmt.Errorf("stable diffusion: vae decoder: %w", err)
	}
	w, h := lw*sdVAEFactor, lh*sdVAEFactor
	pic, ok := out[0].(ort.Tensor)
	if !ok || len(pic.Shape) != 4 || pic.Shape[1] != 3 || pic.Shape[2] != int64(h) || pic.Shape[3] != int64(w) {
		return Image{}, fmt.Errorf("stable diffusion: vae decoder output %v, want [1, 3, %d, %d]", shapeOf(out[0]), h, w)
	}
	return Image{Width: w, Height: h, RGB: planarToRGB(pic.Data, w, h)}, nil
}

// planarToRGB maps the decoder's CHW values in [-1, 1] to 8-bit HWC RGB as
// diffusers does: (x/2 + 0.5) clamped to [0, 1], times 255, rounded half to
// even (numpy's round).
func planarToRGB(chw []float32, w, h int) []byte {
	plane := w * h
	rgb := make([]byte, 3*plane)
	for p := range plane {
		for ch := range 3 {
			v := float64(chw[ch*plane+p])/2 + 0.5
			switch {
			case !(v > 0): // also NaN
				v = 0
			case v > 1:
				v = 1
			}
			rgb[3*p+ch] = byte(math.RoundToEven(v * 255))
		}
	}
	return rgb
}

// shapeOf describes an output for error messages.
func shapeOf(v ort.Value) string {
	switch t := v.(type) {
	case ort.Tensor:
		return fmt.Sprintf("float32 %v", t.Shape)
	case ort.TensorOf[int64]:
		return fmt.Sprintf("int64 %v", t.Shape)
	case ort.TensorOf[int32]:
		return fmt.Sprintf("int32 %v", t.Shape)
	default:
		return fmt.Sprintf("%T", v)
	}
}
