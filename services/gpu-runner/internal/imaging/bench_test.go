package imaging

import (
	"fmt"
	"image/png"
	"math"
	"testing"
)

// smoothRGB is a picture like the demo model's: smooth colour fields,
// which is what PNG's filters and deflate see in production. Noise would
// make every level look alike and slow.
func smoothRGB(w, h int) []byte {
	rgb := make([]byte, w*h*3)
	for y := range h {
		for x := range w {
			fx, fy := float64(x)/float64(w)-0.5, float64(y)/float64(h)-0.5
			r := math.Hypot(fx, fy)
			p := (y*w + x) * 3
			rgb[p] = byte(127.5 + 127.5*math.Sin(9*fx+3*r))
			rgb[p+1] = byte(127.5 + 127.5*math.Sin(7*fy-5*r))
			rgb[p+2] = byte(127.5 + 127.5*math.Cos(11*r))
		}
	}
	return rgb
}

// BenchmarkEncodeRGB encodes a 512×512 picture (the contract's default
// size) at every compression level CYBERIMAGE_PNG_COMPRESSION offers,
// reporting input MB/s, ns per megapixel and the PNG size, so the level's
// CPU cost can be weighed against the bytes it saves on upload. The
// benchmark harness's 64×64 size shows the fixed cost of each call.
func BenchmarkEncodeRGB(b *testing.B) {
	for _, side := range []int{512, 64} {
		encodeLevels(b, side, side)
	}
}

func encodeLevels(b *testing.B, w, h int) {
	rgb := smoothRGB(w, h)
	levels := []struct {
		name  string
		level png.CompressionLevel
	}{
		{"none", png.NoCompression},
		{"speed", png.BestSpeed},
		{"default", png.DefaultCompression},
		{"best", png.BestCompression},
	}
	for _, l := range levels {
		b.Run(fmt.Sprintf("%dx%d/%s", w, h, l.name), func(b *testing.B) {
			enc := NewEncoder(l.level)
			b.ReportAllocs()
			var size int
			for b.Loop() {
				data, err := enc.EncodeRGB(w, h, rgb)
				if err != nil {
					b.Fatal(err)
				}
				size = len(data)
			}
			perOp := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			b.ReportMetric(float64(len(rgb))/perOp*1e3, "MB/s") // bytes per ns × 1e3 = MB/s
			b.ReportMetric(perOp/(float64(w*h)/1e6), "ns/megapixel")
			b.ReportMetric(float64(size), "png_bytes")
		})
	}
}
