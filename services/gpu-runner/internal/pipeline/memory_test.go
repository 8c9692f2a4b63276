package pipeline

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/services/gpu-runner/internal/ort"
	"cyberimage/shared/job"
	"cyberimage/shared/models"
	"cyberimage/shared/testenv"
)

// TestSlicingChangesNoByte: under a budget that forces one image and a
// part of each step's pixels per run, the pictures are byte for byte those
// of one run per step, and progress is still told once per step.
func TestSlicingChangesNoByte(t *testing.T) {
	c := openCPPN(t)
	ctx := context.Background()
	specs := demoBatch(128, 96, 2, 2, 1)
	mem := job.Memory{BytesPerPixel: 100, BytesPerPixelOnce: 10, Sliceable: true}
	// 4500 pixels' worth once the run headroom is taken off.
	limit := RunLimit{Memory: mem, Budget: job.OutputBytes(128*96, 3) + 4500*110*100/runHeadroomPercent}
	runImages, runPixels, err := limit.plan(128*96, 3, 0)
	require.NoError(t, err)
	require.Equal(t, 1, runImages)
	require.InDelta(t, 4500, runPixels, 1, "each 6144-pixel step takes two runs per image")

	whole, err := c.GenerateBatch(ctx, specs, nil)
	require.NoError(t, err)
	var steps []int
	sliced, err := c.GenerateBatchWithin(ctx, specs, limit, func(step, total int) {
		require.Equal(t, 2, total)
		steps = append(steps, step)
	})
	require.NoError(t, err)
	require.Equal(t, []int{1, 2}, steps)
	for i := range specs {
		require.Len(t, sliced[i], specs[i].NumImages)
		for k := range whole[i] {
			require.True(t, bytes.Equal(whole[i][k].RGB, sliced[i][k].RGB), "job %d image %d differs when sliced", i, k)
		}
	}

	_, err = c.GenerateBatchWithin(ctx, specs, RunLimit{Memory: mem, Budget: 1 << 10}, nil)
	require.ErrorIs(t, err, ErrUnsupported, "a budget below the images themselves is refused")
	_, err = c.Generate(ctx, job.Spec{Prompt: "bad", Model: "demo", Width: 64, Height: 64, Steps: 1, NumImages: -1}, nil)
	require.ErrorIs(t, err, ErrUnsupported, "negative images are refused, not a panic")
}

// TestPlanFitsBudget: whatever the job and budget, a planned run plus the
// fixed cost and the finished images stays within the budget, and runs are
// never smaller than job.MinRunPixels (unless the picture is).
func TestPlanFitsBudget(t *testing.T) {
	demo := demoMemory(t)
	for _, tc := range []struct {
		w, h, images int
		budgetMB     int64
	}{
		{2048, 2048, 8, 512}, {2048, 2048, 8, 128}, {2048, 2048, 2, 512}, {2048, 2048, 1, 2048},
		{1024, 1024, 1, 64}, {64, 64, 8, 16}, {2048, 64, 3, 40},
	} {
		pixels := tc.w * tc.h
		l := RunLimit{Memory: demo, Budget: tc.budgetMB << 20}
		runImages, runPixels, err := l.plan(pixels, tc.images, 0)
		require.NoError(t, err, "%+v", tc)
		require.True(t, runImages >= 1 && runImages <= tc.images, "%+v: %d images a run", tc, runImages)
		require.GreaterOrEqual(t, runPixels, min(pixels, job.MinRunPixels), "%+v", tc)
		require.LessOrEqual(t, runPixels, pixels, "%+v", tc)
		peak := demo.Fixed() + job.OutputBytes(pixels, tc.images) + demo.RunBytes(runPixels, runImages, 1)
		require.LessOrEqual(t, peak, l.Budget, "%+v: %d images × %d pixels a run", tc, runImages, runPixels)
	}
	images, pixels, err := RunLimit{}.plan(4096, 8, 0)
	require.NoError(t, err)
	require.Equal(t, []int{8, 4096}, []int{images, pixels}, "no budget: everything in one run")
}

func demoMemory(t *testing.T) job.Memory {
	t.Helper()
	c, err := models.Load(testenv.RepoRoot(t)+"/infra/models", "")
	require.NoError(t, err)
	m, _ := c.Manifest("demo")
	require.True(t, m.Memory.Sliceable)
	return m.Memory
}

// recordingGen is a BatchGenerator and Slicer that records what reaches it
// and, like the CPPN before re-validation, panics on a negative count.
type recordingGen struct {
	mu      sync.Mutex
	batches []int
	limits  []RunLimit
}

func (g *recordingGen) Generate(ctx context.Context, s job.Spec, p Progress) ([]Image, error) {
	return generateOne(ctx, g, s, p)
}

func (g *recordingGen) GenerateBatch(ctx context.Context, specs []job.Spec, p Progress) ([][]Image, error) {
	return g.GenerateBatchWithin(ctx, specs, RunLimit{}, p)
}

func (g *recordingGen) GenerateBatchWithin(_ context.Context, specs []job.Spec, l RunLimit, p Progress) ([][]Image, error) {
	g.mu.Lock()
	g.batches = append(g.batches, len(specs))
	g.limits = append(g.limits, l)
	g.mu.Unlock()
	out := make([][]Image, len(specs))
	for i, s := range specs {
		out[i] = make([]Image, s.NumImages) // panics when negative
	}
	for step := 1; step <= specs[0].Steps; step++ {
		if p != nil {
			p(step, specs[0].Steps)
		}
	}
	return out, nil
}

func (g *recordingGen) Close() error { return nil }

func guardedRegistry(t *testing.T, jobMemoryMB int) (*Registry, map[string]*recordingGen) {
	t.Helper()
	c, err := models.Load(testenv.RepoRoot(t)+"/infra/models", "")
	require.NoError(t, err)
	gens := map[string]*recordingGen{}
	reg := NewRegistry(RegistryParams{Catalog: c, JobMemory: models.JobMemory{MB: jobMemoryMB},
		Open: func(m models.Manifest, _ ort.Options) (Generator, error) {
			g := &recordingGen{}
			gens[m.Name] = g
			return g, nil
		}})
	t.Cleanup(func() { _ = reg.Close() })
	return reg, gens
}

func TestGuardRefusesInvalidSpecs(t *testing.T) {
	reg, gens := guardedRegistry(t, 512)
	demo, release, err := reg.For("demo", nil)
	require.NoError(t, err)
	defer release()
	ctx := context.Background()
	good := job.Spec{Prompt: "p", Model: "demo", Width: 256, Height: 256, Steps: 2, NumImages: 1}
	_, err = demo.Generate(ctx, good, nil)
	require.NoError(t, err)

	for name, edit := range map[string]func(*job.Spec){
		"negative images": func(s *job.Spec) { s.NumImages = -3 },
		"odd width":       func(s *job.Spec) { s.Width = 250 },
		"huge height":     func(s *job.Spec) { s.Height = 4096 },
		"steps over max":  func(s *job.Spec) { s.Steps = 51 },
		"guidance":        func(s *job.Spec) { s.Guidance = 31 },
		"other model":     func(s *job.Spec) { s.Model = "tiny-sd" },
	} {
		bad := good
		edit(&bad)
		require.NotPanics(t, func() { _, err = demo.Generate(ctx, bad, nil) }, name)
		require.ErrorIs(t, err, ErrUnsupported, name)
		_, err = demo.(BatchGenerator).GenerateBatch(ctx, []job.Spec{good, bad}, nil)
		require.ErrorIs(t, err, ErrUnsupported, "%s in a batch", name)
	}
	require.Equal(t, []int{1}, gens["demo"].batches, "no invalid spec reached the model")

	sd, releaseSD, err := reg.For("tiny-sd", nil)
	require.NoError(t, err)
	defer releaseSD()
	_, err = sd.Generate(ctx, job.Spec{Prompt: "p", Model: "tiny-sd", Width: 2048, Height: 2048, Steps: 1, Guidance: 7.5, NumImages: 1}, nil)
	require.ErrorIs(t, err, ErrUnsupported)
	require.True(t, errors.Is(err, &job.ValidationError{Code: job.CodeMemoryBudgetExceeded}), "got %v", err)
	require.Contains(t, err.Error(), "budget is 512 MB")
	require.Empty(t, gens["tiny-sd"].batches)
}

func TestGuardSlicesOrSplitsToFit(t *testing.T) {
	reg, gens := guardedRegistry(t, 256)
	ctx := context.Background()

	demo, release, err := reg.For("demo", nil)
	require.NoError(t, err)
	defer release()
	_, err = demo.Generate(ctx, job.Spec{Prompt: "p", Model: "demo", Width: 2048, Height: 2048, Steps: 1, NumImages: 8}, nil)
	require.NoError(t, err)
	require.Equal(t, RunLimit{Memory: demoMemory(t), Budget: 256 << 20}, gens["demo"].limits[0], "a sliceable model gets the budget")

	// Alone each job needs about 163 MB, three together 233 MB, four 268 MB.
	sd, releaseSD, err := reg.For("tiny-sd", nil)
	require.NoError(t, err)
	defer releaseSD()
	spec := job.Spec{Prompt: "p", Model: "tiny-sd", Width: 1024, Height: 1024, Steps: 4, Guidance: 7.5, NumImages: 1}
	var steps []int
	out, err := sd.(BatchGenerator).GenerateBatch(ctx, []job.Spec{spec, spec, spec, spec, spec}, func(step, total int) {
		require.Equal(t, 4, total)
		steps = append(steps, step)
	})
	require.NoError(t, err)
	require.Len(t, out, 5)
	require.Equal(t, []int{3, 2}, gens["tiny-sd"].batches, "the batch is split into runs that fit")
	require.Equal(t, []int{1, 2, 3, 4}, steps, "progress rises once over both runs")
}

func TestReliefFreesAfterLargeJobsOnly(t *testing.T) {
	var frees atomic.Int32
	r := newRelief(func() { frees.Add(1) }, []time.Duration{0, time.Millisecond, 2 * time.Millisecond})
	r.after(reliefThreshold - 1)
	r.after(reliefThreshold)
	require.Eventually(t, func() bool { return frees.Load() == 3 }, time.Second, time.Millisecond)
	r.close()
	r.after(reliefThreshold) // after close: nothing
	require.Equal(t, int32(3), frees.Load())

	slow := newRelief(func() { frees.Add(1) }, []time.Duration{time.Hour})
	slow.after(reliefThreshold)
	slow.close() // does not wait the hour
}
