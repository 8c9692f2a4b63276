package models

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/job"
)

func TestManifestMemory(t *testing.T) {
	t.Parallel()
	c, err := Load("../../infra/models", "")
	require.NoError(t, err)
	demo, _ := c.Lookup("demo")
	require.True(t, demo.Memory.Sliceable, "the demo CPPN slices")
	require.Positive(t, demo.Memory.BytesPerPixel)
	sd, _ := c.Lookup("tiny-sd")
	require.False(t, sd.Memory.Sliceable)
	require.Equal(t, 2.0, sd.Memory.GuidanceFactor)
	require.Zero(t, sd.MemoryBudget, "the plain catalog checks no budget")

	dir := t.TempDir()
	writeManifest(t, dir, "a", `{"name":"a","pipeline":"cppn","file":"m.onnx","steps":{"default":4}}`)
	c, err = Load(dir, "")
	require.NoError(t, err)
	a, _ := c.Lookup("a")
	require.Equal(t, job.DefaultMemory, a.Memory, "no memory declared: the conservative default")

	dir = t.TempDir()
	writeManifest(t, dir, "a", `{"name":"a","pipeline":"cppn","file":"m.onnx","steps":{"default":4},"memory":{"bytes_per_pixel":-1}}`)
	_, err = Load(dir, "")
	require.ErrorContains(t, err, "memory")
}

func TestWithMemoryBudget(t *testing.T) {
	t.Parallel()
	require.Equal(t, int64(DefaultJobMemoryMB)<<20, JobMemory{}.Bytes())
	require.Equal(t, int64(512)<<20, JobMemory{MB: 512}.Bytes())
	c, err := Load("../../infra/models", "")
	require.NoError(t, err)
	models := c.WithMemoryBudget(512 << 20)
	require.Equal(t, "demo", models.Default())
	l, ok := models.Lookup("tiny-sd")
	require.True(t, ok)
	require.Equal(t, int64(512)<<20, l.MemoryBudget)
	_, ok = models.Lookup("nope")
	require.False(t, ok)

	n := 1
	big, w := 2048, 2048
	_, err = job.Normalize(job.Request{Prompt: "p", Model: "tiny-sd", Width: &w, Height: &big, NumImages: &n}, models, func() int64 { return 1 }, time.Time{})
	require.ErrorIs(t, err, &job.ValidationError{Code: job.CodeMemoryBudgetExceeded})
	n = 8
	_, err = job.Normalize(job.Request{Prompt: "p", Model: "demo", Width: &w, Height: &big, NumImages: &n}, models, func() int64 { return 1 }, time.Time{})
	require.NoError(t, err, "the demo model slices the largest request into 512 MB")
}

// TestJobMemoryOn: the budget of a job on each kind of device (moved from
// the runner's pipeline, where it was resolved before).
func TestJobMemoryOn(t *testing.T) {
	t.Parallel()
	require.Equal(t, int64(300)<<20, JobMemory{MB: 300}.On(nil, 0, 1))
	gpu := 0
	require.Equal(t, int64(DefaultJobMemoryMB)<<20, JobMemory{}.On(&gpu, 0, 1), "a GPU of unknown size")
	const h200 = 141 << 30
	require.Equal(t, int64(h200*8/10/2), JobMemory{}.On(&gpu, h200, 2), "80% of the device, shared by its slots")
	require.Equal(t, int64(300)<<20, JobMemory{MB: 300}.On(&gpu, h200, 2), "a setting wins")
	cpu := JobMemory{}.On(nil, 0, 1)
	require.LessOrEqual(t, cpu, int64(DefaultJobMemoryMB)<<20)
	if total := physicalMemory(); total > 0 {
		require.LessOrEqual(t, cpu, total/4)
	}
}
