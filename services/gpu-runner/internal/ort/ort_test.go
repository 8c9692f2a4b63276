package ort

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/services/gpu-runner/internal/imagetest"
)

func TestInitSamePathIsNoOpOtherPathFails(t *testing.T) {
	initORT(t)
	initORT(t) // second Init with the same path
	err := Init("/nonexistent/libonnxruntime.so")
	require.Error(t, err)
	require.Contains(t, err.Error(), "already initialized")
}

func TestRunDemoModel(t *testing.T) {
	s := openDemo(t, Options{IntraOpThreads: 1})
	const w, h, b = 64, 48, 2
	in := []Tensor{gridCoords(w, h), latents(b, 42)}

	start := time.Now()
	out, err := s.Run(context.Background(), in)
	require.NoError(t, err)
	t.Logf("B=%d %dx%d run: %v", b, w, h, time.Since(start))
	require.Len(t, out, 1)
	rgb := out[0]
	require.Equal(t, []int64{b, w * h, 3}, rgb.Shape)
	require.Len(t, rgb.Data, b*w*h*3)
	for i, v := range rgb.Data {
		if v < 0 || v > 1 {
			t.Fatalf("rgb[%d] = %v, outside [0,1]", i, v)
		}
	}

	per := w * h * 3
	img0, img1 := rgb.Data[:per], rgb.Data[per:]
	require.Greater(t, imagetest.StdDev(img0), 0.05, "image 0 is flat")
	require.Greater(t, imagetest.StdDev(img1), 0.05, "image 1 is flat")
	require.Greater(t, imagetest.MeanAbsDiff(img0, img1), 0.05, "different latents gave near-identical images")

	again, err := s.Run(context.Background(), in)
	require.NoError(t, err)
	require.Equal(t, rgb, again[0], "same inputs must give identical outputs")
}

// TestRunConcurrent checks that one Session serves parallel Runs and each
// gets exactly what a serial run gives.
func TestRunConcurrent(t *testing.T) {
	s := openDemo(t, Options{IntraOpThreads: 1})
	coords := gridCoords(32, 32)
	const n = 4
	want := make([][]Tensor, n)
	for i := range n {
		out, err := s.Run(context.Background(), []Tensor{coords, latents(1, uint64(i))})
		require.NoError(t, err)
		want[i] = out
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			for range 3 {
				out, err := s.Run(context.Background(), []Tensor{coords, latents(1, uint64(i))})
				if err == nil && !equalTensors(out, want[i]) {
					err = fmt.Errorf("goroutine %d: output differs from serial run", i)
				}
				if err != nil {
					errs[i] = err
					return
				}
			}
		})
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
}

func TestRunCancelled(t *testing.T) {
	s := openDemo(t, Options{IntraOpThreads: 1})
	// Big enough that a full run takes seconds on one thread.
	in := []Tensor{gridCoords(1024, 1024), latents(8, 7)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(20*time.Millisecond, cancel)

	start := time.Now()
	out, err := s.Run(ctx, in)
	t.Logf("cancelled B=8 1024x1024 run returned after %v: %v", time.Since(start), err)
	require.Nil(t, out)
	require.Error(t, err)
	require.ErrorIs(t, err, context.Canceled)
}

func TestRunAlreadyCancelled(t *testing.T) {
	s := openDemo(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Run(ctx, []Tensor{gridCoords(8, 8), latents(1, 1)})
	require.ErrorIs(t, err, context.Canceled)
}

func TestRunRejectsBadInputs(t *testing.T) {
	s := openDemo(t, Options{})
	ctx := context.Background()

	_, err := s.Run(ctx, []Tensor{gridCoords(8, 8)})
	require.ErrorContains(t, err, "expects 2")

	bad := gridCoords(8, 8)
	bad.Data = bad.Data[:10]
	_, err = s.Run(ctx, []Tensor{bad, latents(1, 1)})
	require.ErrorContains(t, err, "needs 192 values")

	// Shape accepted by Go but not by the graph: ORT's error must surface.
	_, err = s.Run(ctx, []Tensor{{Shape: []int64{4, 2}, Data: make([]float32, 8)}, latents(1, 1)})
	require.Error(t, err)
	t.Logf("ORT shape error: %v", err)
}

func TestRunAfterClose(t *testing.T) {
	s := openDemo(t, Options{})
	require.NoError(t, s.Close())
	_, err := s.Run(context.Background(), []Tensor{gridCoords(8, 8), latents(1, 1)})
	require.ErrorIs(t, err, ErrClosed)
}

// TestWriteSamplePNG renders one 256x256 picture for a human to look at:
// into t.TempDir(), or to $DEMOMODEL_PNG when set.
func TestWriteSamplePNG(t *testing.T) {
	s := openDemo(t, Options{IntraOpThreads: 1})
	const size = 256
	out, err := s.Run(context.Background(), []Tensor{gridCoords(size, size), latents(1, 2026)})
	require.NoError(t, err)

	img := image.NewRGBA(image.Rect(0, 0, size, size))
	px := out[0].Data
	for i := range size * size {
		img.Set(i%size, i/size, color.RGBA{to8(px[3*i]), to8(px[3*i+1]), to8(px[3*i+2]), 255})
	}
	path := os.Getenv("DEMOMODEL_PNG")
	if path == "" {
		path = filepath.Join(t.TempDir(), "demo.png")
	}
	f, err := os.Create(path)
	require.NoError(t, err)
	require.NoError(t, png.Encode(f, img))
	require.NoError(t, f.Close())
	t.Logf("sample written to %s", path)
}

// BenchmarkRun512 times one 512x512 picture per op at 1 and 2 intra-op threads.
func BenchmarkRun512(b *testing.B) {
	in := []Tensor{gridCoords(512, 512), latents(1, 3)}
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprintf("threads=%d", threads), func(b *testing.B) {
			s := openDemo(b, Options{IntraOpThreads: threads})
			for b.Loop() {
				if _, err := s.Run(context.Background(), in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func to8(v float32) uint8 { return uint8(v*255 + 0.5) }

func equalTensors(a, b []Tensor) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if fmt.Sprint(a[i].Shape) != fmt.Sprint(b[i].Shape) || len(a[i].Data) != len(b[i].Data) {
			return false
		}
		for j := range a[i].Data {
			if a[i].Data[j] != b[i].Data[j] {
				return false
			}
		}
	}
	return true
}
