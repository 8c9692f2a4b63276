package gpu

import (
	"testing"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/bus"
)

func names(slots []Slot) []string {
	out := make([]string, len(slots))
	for i, s := range slots {
		out[i] = s.Name()
	}
	return out
}

func TestPlan(t *testing.T) {
	t.Parallel()
	two := []bus.GPU{{Index: 0}, {Index: 1}}
	cases := []struct {
		devices string
		found   []bus.GPU
		perGPU  int
		want    []string
		err     string
	}{
		{"auto", nil, 1, []string{"cpu", "cpu"}, ""},
		{"auto", two, 1, []string{"cuda:0", "cuda:1"}, ""},
		{"auto", two, 2, []string{"cuda:0", "cuda:0", "cuda:1", "cuda:1"}, ""},
		{"cpu", two, 1, []string{"cpu", "cpu"}, ""},
		{"1", two, 1, []string{"cuda:1"}, ""},
		{"0, 1,1", two, 1, []string{"cuda:0", "cuda:1"}, ""},
		{"2", two, 1, nil, "no GPU 2"},
		{"0", nil, 1, nil, "no GPU 0"},
		{"gpu", two, 1, nil, "want auto, cpu"},
	}
	for _, tc := range cases {
		slots, err := Plan(tc.devices, tc.found, tc.perGPU, 2)
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err, tc.devices)
			continue
		}
		require.NoError(t, err, tc.devices)
		require.Equal(t, tc.want, names(slots), tc.devices)
	}
	require.Equal(t, "cuda:0,1", DeviceLabel([]Slot{gpuSlots(0, 1)[0], gpuSlots(1, 1)[0], gpuSlots(1, 1)[0]}))
	require.Equal(t, "cpu", DeviceLabel(make([]Slot, 3)))
}

func TestOpenWithoutDriverIsCPU(t *testing.T) {
	// This machine has no NVIDIA driver: Open must not crash and must
	// report no GPUs (on a GPU machine it lists them instead).
	n := Open(zapNop())
	defer n.Close()
	for _, g := range n.GPUs() {
		require.NotEmpty(t, g.UUID)
	}
}
