package pipeline

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchSizes are the harness's default size and the contract's default.
var benchSizes = []int{64, 512}

// modelOutput is what the CPPN's sigmoid output looks like: values in
// [0, 1], a few exactly at the ends.
func modelOutput(n int) []float32 {
	rng := rand.New(rand.NewPCG(1, 2))
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(rng.Float64()*1.02 - 0.01)
	}
	return out
}

func reportPerMegapixel(b *testing.B, pixels int) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(float64(pixels)/1e6), "ns/megapixel")
}

// BenchmarkToBytes is the tensor → RGB bytes step of every generated
// picture (the model's float output quantised to 8 bits).
func BenchmarkToBytes(b *testing.B) {
	for _, side := range benchSizes {
		b.Run(fmt.Sprintf("%dx%d", side, side), func(b *testing.B) {
			src := modelOutput(side * side * 3)
			dst := make([]byte, len(src))
			b.SetBytes(int64(len(src) * 4))
			b.ReportAllocs()
			for b.Loop() {
				toBytes(dst, src)
			}
			reportPerMegapixel(b, side*side)
		})
	}
}

// BenchmarkCoords is the model's input for every picture: (x, y, r) per
// pixel, written into a reused slice as Generate does.
func BenchmarkCoords(b *testing.B) {
	for _, side := range benchSizes {
		b.Run(fmt.Sprintf("%dx%d", side, side), func(b *testing.B) {
			dst := make([]float32, 0, side*side*3)
			b.SetBytes(int64(side * side * 3 * 4))
			b.ReportAllocs()
			for b.Loop() {
				dst = Coords(dst[:0], side, side, 0, side*side)
			}
			reportPerMegapixel(b, side*side)
		})
	}
}
