// Package imaging encodes generated pixels as PNG.
package imaging

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"sync"
)

// Encoder encodes PNGs, reusing buffers between calls.
type Encoder struct {
	enc png.Encoder
}

// NewEncoder uses level; png.BestSpeed trades a slightly larger file for
// several times less CPU than the default, which matters when encoding
// competes with inference for cores.
func NewEncoder(level png.CompressionLevel) *Encoder {
	return &Encoder{enc: png.Encoder{CompressionLevel: level, BufferPool: &bufferPool{}}}
}

// EncodeRGB encodes 8-bit RGB pixels as an opaque PNG.
func (e *Encoder) EncodeRGB(w, h int, rgb []byte) ([]byte, error) {
	if len(rgb) != w*h*3 {
		return nil, fmt.Errorf("encode png: %d bytes for %dx%d RGB", len(rgb), w, h)
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for p, q := 0, 0; p < len(rgb); p, q = p+3, q+4 {
		img.Pix[q], img.Pix[q+1], img.Pix[q+2], img.Pix[q+3] = rgb[p], rgb[p+1], rgb[p+2], 0xff
	}
	var buf bytes.Buffer
	if err := e.enc.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("encode png: %w", err)
	}
	return buf.Bytes(), nil
}

// bufferPool lets one Encoder serve every slot at once.
type bufferPool struct{ pool sync.Pool }

func (p *bufferPool) Get() *png.EncoderBuffer {
	b, _ := p.pool.Get().(*png.EncoderBuffer)
	return b
}

func (p *bufferPool) Put(b *png.EncoderBuffer) { p.pool.Put(b) }
