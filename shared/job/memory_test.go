package job

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMemoryEstimate(t *testing.T) {
	t.Parallel()
	m := Memory{FixedMB: 8, BytesPerPixel: 16, BytesPerPixelOnce: 120, GuidanceFactor: 2}
	s := Spec{Width: 1024, Height: 512, NumImages: 3, Guidance: 7.5}
	px := int64(1024 * 512)
	// fixed + pixels × (once + per × images × 2 for guidance) + the images.
	require.Equal(t, 8<<20+px*(120+16*3*2)+px*3*3, m.Estimate(s))
	s.Guidance = 1 // guidance ≤ 1 runs no unconditional rows
	require.Equal(t, 8<<20+px*(120+16*3)+px*3*3, m.Estimate(s))
	require.Equal(t, m.Estimate(s), m.Minimum(s), "a pipeline that cannot slice needs its whole estimate")
	two := s
	two.NumImages = 1
	require.Equal(t, m.Estimate(Spec{Width: 1024, Height: 512, NumImages: 4, Guidance: 1}), m.Estimate(s, two),
		"a batch costs as its images together")

	m.Sliceable = true
	require.Equal(t, 8<<20+int64(MinRunPixels)*(120+16)+px*3*3, m.Minimum(s),
		"sliced: the finished images and the smallest run")
	small := Spec{Width: 64, Height: 32, NumImages: 1}
	require.Equal(t, 8<<20+int64(64*32)*(120+16)+64*32*3, m.Minimum(small), "a picture smaller than one run")
}

func TestMemoryDefaultsAndValidation(t *testing.T) {
	t.Parallel()
	require.Equal(t, DefaultMemory, Memory{}.OrDefault())
	declared := Memory{BytesPerPixel: 1}
	require.Equal(t, declared, declared.OrDefault())
	require.NoError(t, DefaultMemory.Validate())
	require.Error(t, Memory{FixedMB: -1}.Validate())
	// The documented examples of the default.
	one := Spec{Width: 512, Height: 512, NumImages: 1, Guidance: 7.5}
	require.InDelta(t, 641, float64(DefaultMemory.Estimate(one))/(1<<20), 10)
	one.Width, one.Height = 1024, 1024
	require.InDelta(t, 1795, float64(DefaultMemory.Estimate(one))/(1<<20), 10)
}
