package ort

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"cyberimage/services/gpu-runner/internal/demomodel"
	"cyberimage/shared/testenv"
)

// initORT initializes ORT from the library testenv finds (CYBERIMAGE_ORT_LIB
// or the repo's .tools). A missing library fails the test: these tests exist
// to prove the real runtime works, so skipping would hide that.
func initORT(t testing.TB) {
	t.Helper()
	require.NoError(t, Init(testenv.ORTLibrary(t)))
}

// openDemo writes the demo model to a temp dir and opens it.
func openDemo(t testing.TB, opts Options) *Session {
	t.Helper()
	initORT(t)
	path := filepath.Join(t.TempDir(), "model.onnx")
	require.NoError(t, os.WriteFile(path, demomodel.Build(demomodel.DefaultSeed), 0o644))
	s, err := Open(path, []string{demomodel.InputCoords, demomodel.InputLatent}, []string{demomodel.OutputRGB}, opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

// gridCoords returns the [w*h, 3] (x, y, r) tensor for a w×h image, pixel
// centres, x and y spanning [-1,1].
func gridCoords(w, h int) Tensor {
	data := make([]float32, 0, w*h*3)
	for py := range h {
		y := 2*(float64(py)+0.5)/float64(h) - 1
		for px := range w {
			x := 2*(float64(px)+0.5)/float64(w) - 1
			data = append(data, float32(x), float32(y), float32(math.Hypot(x, y)))
		}
	}
	return Tensor{Shape: []int64{int64(w * h), 3}, Data: data}
}

// latents returns b standard-normal latents as a [b, 1, LatentSize] tensor.
func latents(b int, seed uint64) Tensor {
	rng := rand.New(rand.NewPCG(seed, 1))
	data := make([]float32, b*demomodel.LatentSize)
	for i := range data {
		data[i] = float32(rng.NormFloat64())
	}
	return Tensor{Shape: []int64{int64(b), 1, demomodel.LatentSize}, Data: data}
}
