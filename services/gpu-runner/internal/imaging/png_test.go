package imaging

import (
	"bytes"
	"image/png"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEncodeRGBRoundTrip(t *testing.T) {
	t.Parallel()
	w, h := 16, 8
	rgb := make([]byte, w*h*3)
	for i := range rgb {
		rgb[i] = byte(i * 7)
	}
	data, err := NewEncoder(png.BestSpeed).EncodeRGB(w, h, rgb)
	require.NoError(t, err)
	img, err := png.Decode(bytes.NewReader(data))
	require.NoError(t, err)
	require.Equal(t, w, img.Bounds().Dx())
	require.Equal(t, h, img.Bounds().Dy())
	r, g, b, a := img.At(3, 2).RGBA()
	p := (2*w + 3) * 3
	require.Equal(t, []uint32{uint32(rgb[p]), uint32(rgb[p+1]), uint32(rgb[p+2]), 255}, []uint32{r >> 8, g >> 8, b >> 8, a >> 8})

	_, err = NewEncoder(png.BestSpeed).EncodeRGB(w, h, rgb[:10])
	require.Error(t, err)
}
