package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/services/gpu-runner/internal/imagetest"
	"cyberimage/services/gpu-runner/internal/onnxpb"
	"cyberimage/services/gpu-runner/internal/ort"
	"cyberimage/services/gpu-runner/internal/sdmodel"
	"cyberimage/shared/job"
	"cyberimage/shared/models"
	"cyberimage/shared/testenv"
)

// tinySDDir is the committed tiny model, relative to this package.
var tinySDDir = filepath.Join("..", "..", "..", "..", "infra", "models", "tiny-sd")

func initSDORT(t testing.TB) {
	t.Helper()
	require.NoError(t, ort.Init(testenv.ORTLibrary(t)))
}

// openSD opens dir and wraps its parts in recorders.
func openSD(t testing.TB, dir string) (*StableDiffusion, *sdRecorder) {
	t.Helper()
	initSDORT(t)
	sd, err := OpenStableDiffusion(dir, ort.Options{IntraOpThreads: 1})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, sd.Close()) })
	rec := &sdRecorder{}
	sd.text = &recordingRunner{valueRunner: sd.text, rec: rec, part: "text"}
	sd.unet = &recordingRunner{valueRunner: sd.unet, rec: rec, part: "unet"}
	sd.vae = &recordingRunner{valueRunner: sd.vae, rec: rec, part: "vae"}
	return sd, rec
}

// openVariant writes a tiny model variant to a temp dir and opens it.
func openVariant(t testing.TB, cfg sdmodel.Config) (*StableDiffusion, *sdRecorder) {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, sdmodel.Write(dir, cfg))
	return openSD(t, dir)
}

// sdRecorder notes the batch (first dimension of the first input) of every
// run of each part, to see which path the pipeline took.
type sdRecorder struct {
	mu      sync.Mutex
	batches map[string][]int64
	inputs  map[string][]ort.Value
}

func (r *sdRecorder) runs(part string) []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int64(nil), r.batches[part]...)
}

func (r *sdRecorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.batches, r.inputs = nil, nil
}

type recordingRunner struct {
	valueRunner
	rec  *sdRecorder
	part string
}

func (r *recordingRunner) RunValues(ctx context.Context, in []ort.Value) ([]ort.Value, error) {
	var batch int64 = -1
	switch v := in[0].(type) {
	case ort.Tensor:
		batch = v.Shape[0]
	case ort.TensorOf[int32]:
		batch = v.Shape[0]
	case ort.TensorOf[int64]:
		batch = v.Shape[0]
	}
	r.rec.mu.Lock()
	if r.rec.batches == nil {
		r.rec.batches, r.rec.inputs = map[string][]int64{}, map[string][]ort.Value{}
	}
	r.rec.batches[r.part] = append(r.rec.batches[r.part], batch)
	r.rec.inputs[r.part] = append(r.rec.inputs[r.part], in...)
	r.rec.mu.Unlock()
	return r.valueRunner.RunValues(ctx, in)
}

func sdSpec(w, h, steps int, guidance float64, seed int64) job.Spec {
	return job.Spec{Prompt: "a neon koi pond at dusk", Model: "tiny-sd", Width: w, Height: h,
		Steps: steps, Guidance: guidance, Seed: seed, NumImages: 1}
}

// generate runs one job on g and fails the test if it fails.
func generate(t testing.TB, g Generator, spec job.Spec) []Image {
	t.Helper()
	imgs, err := g.Generate(context.Background(), spec, nil)
	require.NoError(t, err)
	return imgs
}

func TestSDOutputSizes(t *testing.T) {
	sd, _ := openSD(t, tinySDDir)
	for _, size := range [][2]int{{64, 64}, {128, 96}, {96, 128}} {
		w, h := size[0], size[1]
		imgs := generate(t, sd, sdSpec(w, h, 2, 7.5, 1))
		require.Len(t, imgs, 1)
		require.Equal(t, w, imgs[0].Width)
		require.Equal(t, h, imgs[0].Height)
		require.Len(t, imgs[0].RGB, w*h*3)
		require.Greater(t, imagetest.StdDev(imgs[0].RGB), 5.0, "%dx%d picture is flat", w, h)
	}
}

func TestSDSameSeedSameBytesOthersDiffer(t *testing.T) {
	sd, _ := openSD(t, tinySDDir)
	gen := func(spec job.Spec) []byte {
		imgs := generate(t, sd, spec)
		return imgs[0].RGB
	}
	base := sdSpec(64, 64, 4, 7.5, 42)
	a, b := gen(base), gen(base)
	require.Equal(t, a, b, "same spec must give identical bytes")

	other := base
	other.Seed = 43
	require.Greater(t, imagetest.MeanAbsDiff(a, gen(other)), 2.0, "another seed gives another picture")

	other = base
	other.Prompt = "a castle in the fog"
	require.Greater(t, imagetest.MeanAbsDiff(a, gen(other)), 0.5, "another prompt gives another picture")

	other = base
	other.NegativePrompt = "blurry"
	require.Greater(t, imagetest.MeanAbsDiff(a, gen(other)), 0.5, "a negative prompt changes a guided picture")
}

func TestSDGuidanceChoosesOneOrTwoPasses(t *testing.T) {
	sd, rec := openSD(t, tinySDDir)

	spec := sdSpec(64, 64, 3, 0, 7)
	spec.NumImages = 2
	unguided := generate(t, sd, spec)
	// guidance 0 (turbo): one text row (the prompt), one UNet pass of B=2 rows per step.
	require.Equal(t, []int64{1}, rec.runs("text"))
	require.Equal(t, []int64{2, 2, 2}, rec.runs("unet"))
	require.Equal(t, []int64{1, 1}, rec.runs("vae"), "one decode per image")

	rec.reset()
	spec.Guidance = 7.5
	guided := generate(t, sd, spec)
	// guidance > 1: the negative ("") and the prompt encoded together, and
	// each step ONE UNet run of 2·B = 4 rows (uncond + cond).
	require.Equal(t, []int64{2}, rec.runs("text"))
	require.Equal(t, []int64{4, 4, 4}, rec.runs("unet"))
	require.Greater(t, imagetest.MeanAbsDiff(unguided[0].RGB, guided[0].RGB), 0.5, "guidance changes the picture")

	rec.reset()
	spec.Guidance = 1 // diffusers: guidance_scale > 1 enables CFG
	generate(t, sd, spec)
	require.Equal(t, []int64{2, 2, 2}, rec.runs("unet"))
}

func TestSDStepsAndProgress(t *testing.T) {
	sd, rec := openSD(t, tinySDDir)
	for _, steps := range []int{1, 4} {
		rec.reset()
		var calls [][2]int
		imgs, err := sd.Generate(context.Background(), sdSpec(64, 64, steps, 0, 5), func(step, total int) {
			calls = append(calls, [2]int{step, total})
		})
		require.NoError(t, err)
		require.Len(t, imgs, 1)
		want := make([][2]int, steps)
		for i := range want {
			want[i] = [2]int{i + 1, steps}
		}
		require.Equal(t, want, calls, "progress once per denoising step")
		require.Len(t, rec.runs("unet"), steps)
	}
}

func TestSDCancelMidRun(t *testing.T) {
	sd, rec := openSD(t, tinySDDir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := sd.Generate(ctx, sdSpec(64, 64, 4, 7.5, 1), func(step, _ int) {
		if step == 2 {
			cancel()
		}
	})
	require.ErrorIs(t, err, context.Canceled)
	require.Len(t, rec.runs("unet"), 2, "no UNet run after the cancel")
	require.Empty(t, rec.runs("vae"), "no decode after the cancel")

	_, err = sd.Generate(ctx, sdSpec(64, 64, 4, 7.5, 1), nil)
	require.ErrorIs(t, err, context.Canceled, "already cancelled")
}

// TestSDExportVariants drives each way exporters declare the inputs: token
// ids int32 or int64, timestep int64 [steps] (older optimum), float32
// [batch] (diffusers' conversion script) or a float32 scalar (current
// optimum), and the ancestral scheduler.
func TestSDExportVariants(t *testing.T) {
	variants := map[string]sdmodel.Config{
		"optimum-old int32 ids, int64 [steps]": {IDType: onnxpb.Int32, Timestep: sdmodel.TimestepInt64Steps},
		"diffusers int32 ids, float [batch]":   {IDType: onnxpb.Int32, Timestep: sdmodel.TimestepFloatBatch},
		"optimum int64 ids, float scalar":      {IDType: onnxpb.Int64, Timestep: sdmodel.TimestepFloatScalar},
	}
	var ref []byte
	for name, cfg := range variants {
		t.Run(name, func(t *testing.T) {
			cfg.Seed, cfg.Scheduler = sdmodel.DefaultSeed, "EulerDiscreteScheduler"
			sd, rec := openVariant(t, cfg)
			imgs := generate(t, sd, sdSpec(64, 64, 2, 7.5, 3))
			ts := rec.inputs["unet"][1]
			switch cfg.Timestep {
			case sdmodel.TimestepInt64Steps:
				require.Equal(t, ort.TensorOf[int64]{Shape: []int64{1}, Data: []int64{999}}, ts)
			case sdmodel.TimestepFloatBatch:
				require.Equal(t, ort.TensorOf[float32]{Shape: []int64{1}, Data: []float32{999}}, ts)
			default:
				require.Equal(t, ort.Scalar[float32](999), ts)
			}
			// Same weights and trailing timesteps (integers), so every variant
			// draws the same picture.
			if ref == nil {
				ref = imgs[0].RGB
			} else {
				require.Equal(t, ref, imgs[0].RGB)
			}
		})
	}

	t.Run("euler ancestral", func(t *testing.T) {
		cfg := sdmodel.DefaultConfig()
		cfg.Scheduler = "EulerAncestralDiscreteScheduler"
		sd, _ := openVariant(t, cfg)
		a := generate(t, sd, sdSpec(64, 64, 3, 7.5, 3))
		b := generate(t, sd, sdSpec(64, 64, 3, 7.5, 3))
		require.Equal(t, a[0].RGB, b[0].RGB, "ancestral noise is seeded")

		euler, _ := openSD(t, tinySDDir)
		c := generate(t, euler, sdSpec(64, 64, 3, 7.5, 3))
		require.Greater(t, imagetest.MeanAbsDiff(a[0].RGB, c[0].RGB), 0.5, "ancestral noise changes the picture")
	})
}

// TestSDConcurrentJobs: slots share one StableDiffusion; each job gets what
// it gets alone.
func TestSDConcurrentJobs(t *testing.T) {
	sd, _ := openSD(t, tinySDDir)
	ctx := context.Background()
	const n = 4
	want := make([][]byte, n)
	for i := range n {
		imgs := generate(t, sd, sdSpec(64, 64, 3, 7.5, int64(i)))
		want[i] = imgs[0].RGB
	}
	var wg sync.WaitGroup
	got := make([][]byte, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			imgs, err := sd.Generate(ctx, sdSpec(64, 64, 3, 7.5, int64(i)), nil)
			if err == nil {
				got[i] = imgs[0].RGB
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		require.Equal(t, want[i], got[i], "job %d", i)
	}
}

// TestSDImageIndexIsSeedOffset: image i of a job is image 0 of seed+i, and
// batching jobs changes no pixel, so users cannot see how jobs were grouped.
func TestSDImageIndexIsSeedOffset(t *testing.T) {
	sd, rec := openSD(t, tinySDDir)
	ctx := context.Background()
	two := sdSpec(64, 64, 2, 7.5, 100)
	two.NumImages = 2
	pair := generate(t, sd, two)
	second := generate(t, sd, sdSpec(64, 64, 2, 7.5, 101))
	require.Equal(t, second[0].RGB, pair[1].RGB)

	rec.reset()
	other := sdSpec(64, 64, 2, 7.5, 5)
	other.Prompt = "a red fox"
	batch, err := sd.GenerateBatch(ctx, []job.Spec{two, other}, nil)
	require.NoError(t, err)
	require.Len(t, batch, 2)
	require.Len(t, batch[0], 2)
	require.Len(t, batch[1], 1)
	require.Equal(t, pair[0].RGB, batch[0][0].RGB)
	require.Equal(t, pair[1].RGB, batch[0][1].RGB)
	alone := generate(t, sd, other)
	require.Equal(t, alone[0].RGB, batch[1][0].RGB)
	// Three images in one run per step: 2·3 rows; two distinct prompts and one
	// distinct negative ("") encoded once.
	require.Equal(t, []int64{6, 6}, rec.runs("unet")[:2])
	require.Equal(t, []int64{3}, rec.runs("text")[:1])

	_, err = sd.GenerateBatch(ctx, []job.Spec{two, sdSpec(128, 64, 2, 7.5, 1)}, nil)
	require.ErrorContains(t, err, "mixes")
}

func TestSDRejectsWhatItCannotServe(t *testing.T) {
	sd, _ := openSD(t, tinySDDir)
	_, err := sd.Generate(context.Background(), sdSpec(60, 64, 2, 0, 1), nil)
	require.ErrorIs(t, err, ErrUnsupported, "width not a multiple of 8")
	_, err = sd.Generate(context.Background(), sdSpec(64, 64, 1001, 0, 1), nil)
	require.ErrorIs(t, err, ErrUnsupported, "more steps than training timesteps")

	// An SDXL-style UNet (extra text_embeds and time_ids inputs).
	dir := t.TempDir()
	require.NoError(t, sdmodel.Write(dir, sdmodel.DefaultConfig()))
	xl := onnxpb.Model{IRVersion: 8, Opset: 17, Graph: onnxpb.Graph{
		Name:  "sdxl_like",
		Nodes: []onnxpb.Node{{Name: "id", OpType: "Identity", Inputs: []string{"sample"}, Outputs: []string{"out_sample"}}},
		Inputs: []onnxpb.ValueInfo{
			{Name: "sample", Type: onnxpb.Float, Dims: []onnxpb.Dim{onnxpb.Sym("b"), onnxpb.Fix(4), onnxpb.Sym("h"), onnxpb.Sym("w")}},
			{Name: "timestep", Type: onnxpb.Float},
			{Name: "encoder_hidden_states", Type: onnxpb.Float, Dims: []onnxpb.Dim{onnxpb.Sym("b"), onnxpb.Fix(77), onnxpb.Fix(2048)}},
			{Name: "text_embeds", Type: onnxpb.Float, Dims: []onnxpb.Dim{onnxpb.Sym("b"), onnxpb.Fix(1280)}},
			{Name: "time_ids", Type: onnxpb.Float, Dims: []onnxpb.Dim{onnxpb.Sym("b"), onnxpb.Fix(6)}},
		},
		Outputs: []onnxpb.ValueInfo{{Name: "out_sample", Type: onnxpb.Float, Dims: []onnxpb.Dim{onnxpb.Sym("b"), onnxpb.Fix(4), onnxpb.Sym("h"), onnxpb.Sym("w")}}},
	}}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "unet", "model.onnx"), xl.Marshal(), 0o644))
	_, err = OpenStableDiffusion(dir, ort.Options{})
	require.ErrorIs(t, err, ErrUnsupported)
	require.ErrorContains(t, err, "text_embeds")

	// A scheduler config asking for Karras sigmas.
	dir = t.TempDir()
	require.NoError(t, sdmodel.Write(dir, sdmodel.DefaultConfig()))
	cfg := `{"_class_name": "EulerDiscreteScheduler", "beta_schedule": "scaled_linear", "use_karras_sigmas": true}`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "scheduler", "scheduler_config.json"), []byte(cfg), 0o644))
	_, err = OpenStableDiffusion(dir, ort.Options{})
	require.ErrorIs(t, err, ErrUnsupported)

	// A folder that is not a model at all.
	_, err = OpenStableDiffusion(t.TempDir(), ort.Options{})
	require.Error(t, err)
}

// TestRegistryServesTinySD opens the committed catalog's tiny-sd through the
// registry, as the runner does.
func TestRegistryServesTinySD(t *testing.T) {
	initSDORT(t)
	catalog, err := models.Load(filepath.Join("..", "..", "..", "..", "infra", "models"), "")
	require.NoError(t, err)
	reg := NewRegistry(RegistryParams{Catalog: catalog, Options: ort.Options{IntraOpThreads: 1}})
	t.Cleanup(func() { require.NoError(t, reg.Close()) })
	g, release, err := reg.For("tiny-sd", nil)
	defer release()
	require.NoError(t, err)
	_, ok := g.(BatchGenerator)
	require.True(t, ok, "stable diffusion batches jobs")
	spec := sdSpec(64, 64, 4, 7.5, 9)
	start := time.Now()
	imgs := generate(t, g, spec)
	t.Logf("tiny-sd 64x64, 4 steps, guidance 7.5, 1 thread: %v", time.Since(start))
	require.Len(t, imgs, 1)
}

// BenchmarkTinySD times a whole job: tokenize, encode, 4 guided steps, decode.
func BenchmarkTinySD(b *testing.B) {
	sd, _ := openSD(b, tinySDDir)
	for _, size := range []int{64, 512} {
		spec := sdSpec(size, size, 4, 7.5, 1)
		b.Run(fmt.Sprintf("%dpx", size), func(b *testing.B) {
			for b.Loop() {
				if _, err := sd.Generate(context.Background(), spec, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
