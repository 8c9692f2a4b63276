package demomodel

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"cyberimage/services/gpu-runner/internal/imagetest"
	"cyberimage/shared/testenv"
	"google.golang.org/protobuf/encoding/protowire"
)

func TestBuildIsDeterministic(t *testing.T) {
	a, b := Build(DefaultSeed), Build(DefaultSeed)
	require.True(t, bytes.Equal(a, b), "Build(DefaultSeed) differs between calls")
	require.False(t, bytes.Equal(a, Build(DefaultSeed+1)), "different seeds must give different models")
}

// TestCommittedModelIsCurrent guards infra/models/demo/model.onnx against
// drifting from the generator (or the generator drifting from it).
func TestCommittedModelIsCurrent(t *testing.T) {
	root := testenv.RepoRoot(t)
	path := filepath.Join(root, "infra", "models", "demo", "model.onnx")
	got, err := os.ReadFile(path)
	require.NoError(t, err, "read committed demo model")
	want := Build(DefaultSeed)
	require.True(t, bytes.Equal(got, want),
		"%s (%d bytes) differs from Build(DefaultSeed) (%d bytes); regenerate it: "+
			"cd services/gpu-runner && go run ./cmd/gen-demo-model -out %s",
		path, len(got), len(want), path)
}

// TestModelHeader walks the top-level ModelProto fields to catch encoder
// mistakes with a clearer message than ORT's load error.
func TestModelHeader(t *testing.T) {
	b := Build(DefaultSeed)
	fields := map[protowire.Number][]byte{}
	var irVersion uint64
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		require.GreaterOrEqual(t, n, 0, "bad tag")
		b = b[n:]
		switch typ {
		case protowire.VarintType:
			v, m := protowire.ConsumeVarint(b)
			require.GreaterOrEqual(t, m, 0)
			if num == 1 {
				irVersion = v
			}
			b = b[m:]
		case protowire.BytesType:
			v, m := protowire.ConsumeBytes(b)
			require.GreaterOrEqual(t, m, 0)
			fields[num] = v
			b = b[m:]
		default:
			t.Fatalf("unexpected wire type %v for field %d", typ, num)
		}
	}
	require.EqualValues(t, irVersion, 8)
	require.Equal(t, producerName, string(fields[2]))
	require.Contains(t, fields, protowire.Number(7), "graph missing")
	require.Equal(t, []byte{0x10, 17}, fields[8], "opset_import should be {version: 17}")
}

// TestPicturesHaveStructure evaluates the CPPN in plain Go: pictures must use
// the colour range, not be flat, and depend on the latent.
func TestPicturesHaveStructure(t *testing.T) {
	w := newWeights(DefaultSeed, tuned)
	rng := rand.New(rand.NewPCG(1, 2))
	var imgs [][]float32
	for range 3 {
		lat := make([]float32, LatentSize)
		for i := range lat {
			lat[i] = float32(rng.NormFloat64())
		}
		img := forward(w, lat, 48, 48)
		for _, v := range img {
			require.True(t, v >= 0 && v <= 1, "value %v out of [0,1]", v)
		}
		require.Greater(t, imagetest.StdDev(img), 0.05, "picture is flat")
		imgs = append(imgs, img)
	}
	require.Greater(t, imagetest.MeanAbsDiff(imgs[0], imgs[1]), 0.05, "latents give near-identical pictures")
	require.Greater(t, imagetest.MeanAbsDiff(imgs[1], imgs[2]), 0.05, "latents give near-identical pictures")
}
