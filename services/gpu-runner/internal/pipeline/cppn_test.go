package pipeline

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"cyberimage/services/gpu-runner/internal/demomodel"
	"cyberimage/services/gpu-runner/internal/ort"
	"cyberimage/shared/job"
	"cyberimage/shared/testenv"
)

// demoBatch is a batch of demo jobs of one size and step count, the i-th
// with seed i+1 and images[i] images, each with its own prompt.
func demoBatch(w, h, steps int, images ...int) []job.Spec {
	prompts := []string{"one", "two", "three"}
	specs := make([]job.Spec, len(images))
	for i, n := range images {
		specs[i] = job.Spec{Prompt: prompts[i], Model: "demo", Width: w, Height: h, Steps: steps, Seed: int64(i + 1), NumImages: n}
	}
	return specs
}

func openCPPN(t *testing.T) *CPPN {
	t.Helper()
	require.NoError(t, ort.Init(testenv.ORTLibrary(t)))
	path := filepath.Join(t.TempDir(), "model.onnx")
	require.NoError(t, os.WriteFile(path, demomodel.Build(demomodel.DefaultSeed), 0o644))
	c, err := OpenCPPN(path, ort.Options{IntraOpThreads: 1})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestBatchChangesNoPixel: jobs batched together give the same pictures as
// run alone, so batching is invisible to users.
func TestBatchChangesNoPixel(t *testing.T) {
	c := openCPPN(t)
	ctx := context.Background()
	specs := demoBatch(64, 48, 3, 2, 1, 3)
	var steps []int
	batched, err := c.GenerateBatch(ctx, specs, func(step, total int) { steps = append(steps, step) })
	require.NoError(t, err)
	require.Equal(t, []int{1, 2, 3}, steps)
	require.Len(t, batched, 3)
	for i, s := range specs {
		alone, err := c.Generate(ctx, s, nil)
		require.NoError(t, err)
		require.Len(t, batched[i], s.NumImages)
		for k := range alone {
			// Per-pixel math is independent of the batch, but a kernel may
			// order float operations differently for another batch size;
			// allow one level of rounding.
			require.Equal(t, len(alone[k].RGB), len(batched[i][k].RGB))
			diff := 0
			for p := range alone[k].RGB {
				d := int(alone[k].RGB[p]) - int(batched[i][k].RGB[p])
				if d > 1 || d < -1 {
					diff++
				}
			}
			require.Zero(t, diff, "job %d image %d differs beyond rounding", i, k)
		}
	}
	again, err := c.Generate(ctx, specs[0], nil)
	require.NoError(t, err)
	first, _ := c.Generate(ctx, specs[0], nil)
	require.True(t, bytes.Equal(first[0].RGB, again[0].RGB), "same spec, same bytes")
	_, err = c.GenerateBatch(ctx, []job.Spec{specs[0], {Model: "demo", Width: 128, Height: 48, Steps: 3, NumImages: 1}}, nil)
	require.Error(t, err, "a batch must not mix sizes")
}
