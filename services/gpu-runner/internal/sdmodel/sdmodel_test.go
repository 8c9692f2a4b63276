package sdmodel

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"cyberimage/services/gpu-runner/internal/clip"
	"cyberimage/services/gpu-runner/internal/onnxpb"
	"cyberimage/services/gpu-runner/internal/scheduler"
)

// committedDir is infra/models/tiny-sd, relative to this package.
var committedDir = filepath.Join("..", "..", "..", "..", "infra", "models", "tiny-sd")

func TestFilesAreDeterministic(t *testing.T) {
	a, err := Files(DefaultConfig())
	require.NoError(t, err)
	b, err := Files(DefaultConfig())
	require.NoError(t, err)
	require.Equal(t, a, b)
	other := DefaultConfig()
	other.Seed++
	c, err := Files(other)
	require.NoError(t, err)
	require.NotEqual(t, a, c, "the seed changes the weights")
}

// TestCommittedModelIsCurrent guards infra/models/tiny-sd against drifting
// from the generator, file by file, with no file missing or extra.
func TestCommittedModelIsCurrent(t *testing.T) {
	files, err := Files(DefaultConfig())
	require.NoError(t, err)
	want := map[string][]byte{}
	total := 0
	for _, f := range files {
		want[f.Path] = f.Data
		total += len(f.Data)
	}
	got := map[string][]byte{}
	err = filepath.WalkDir(committedDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(committedDir, path)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(path)
		got[filepath.ToSlash(rel)] = data
		return err
	})
	require.NoError(t, err)
	regen := "regenerate it: go run ./services/gpu-runner/cmd/gen-tiny-sd -out infra/models/tiny-sd (from the repo root)"
	require.ElementsMatch(t, keys(want), keys(got), "files of %s differ from the generator's; %s", committedDir, regen)
	for path, data := range want {
		require.True(t, bytes.Equal(data, got[path]), "%s differs from the generator's output; %s", path, regen)
	}
	require.Less(t, total, 1<<20, "tiny-sd must stay under 1 MB")
}

// TestGraphsDeclareOptimumNames checks the declared inputs and outputs of
// each variant against the names, dtypes and shapes of optimum's exports.
func TestGraphsDeclareOptimumNames(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.IDType, cfg.Timestep = onnxpb.Int32, TimestepInt64Steps
	require.NoError(t, Write(dir, cfg))

	ins, outs := readIO(t, filepath.Join(dir, "text_encoder", "model.onnx"))
	require.Equal(t, []onnxpb.ValueInfo{{Name: "input_ids", Type: onnxpb.Int32,
		Dims: []onnxpb.Dim{onnxpb.Sym("batch_size"), onnxpb.Sym("sequence_length")}}}, ins)
	require.Equal(t, []string{"last_hidden_state", "pooler_output"}, names(outs))

	ins, outs = readIO(t, filepath.Join(dir, "unet", "model.onnx"))
	require.Equal(t, []string{"sample", "timestep", "encoder_hidden_states"}, names(ins))
	require.Equal(t, onnxpb.ValueInfo{Name: "timestep", Type: onnxpb.Int64, Dims: []onnxpb.Dim{onnxpb.Sym("steps")}}, ins[1])
	require.Equal(t, []onnxpb.Dim{onnxpb.Sym("batch_size"), onnxpb.Fix(4), onnxpb.Sym("height"), onnxpb.Sym("width")}, ins[0].Dims)
	require.Equal(t, []string{"out_sample"}, names(outs))

	ins, outs = readIO(t, filepath.Join(dir, "vae_decoder", "model.onnx"))
	require.Equal(t, []string{"latent_sample"}, names(ins))
	require.Equal(t, []string{"sample"}, names(outs))

	// The committed (current optimum) variant: int64 ids, rank-0 float timestep.
	ins, _ = readIO(t, filepath.Join(committedDir, "text_encoder", "model.onnx"))
	require.Equal(t, onnxpb.Int64, ins[0].Type)
	ins, _ = readIO(t, filepath.Join(committedDir, "unet", "model.onnx"))
	require.Equal(t, onnxpb.Float, ins[1].Type)
	require.Empty(t, ins[1].Dims)
	require.False(t, ins[1].NoShape, "rank 0, not unknown rank")
}

func TestTokenizerAndSchedulerLoad(t *testing.T) {
	tok, err := clip.Load(filepath.Join(committedDir, "tokenizer"))
	require.NoError(t, err)
	ids := tok.Encode("A neon koi pond at dusk, ünïcode 日本 ✨!")
	require.Len(t, ids, SeqLen)
	voc := buildVocab()
	require.Equal(t, len(voc.tokens)-2, ids[0], "<|startoftext|> is the second-last id")
	for _, id := range ids {
		require.Less(t, id, len(voc.tokens))
	}
	// "Ġ" (the space byte) sits at 220 as in CLIP, "!" at 0: byte symbols
	// follow bytes_to_unicode's order.
	require.Equal(t, "!", voc.tokens[0])
	require.Equal(t, "Ġ", voc.tokens[220])
	// Listed words merge whole unless a lower-rank merge from an earlier
	// word gets in first: "koi" does; in "neon", "o n</w>" (from "on",
	// listed before "neon") outranks neon's own chain, leaving ne + on</w>.
	require.Equal(t, []string{"ne", "on</w>", "koi</w>"}, tok.Tokens("neon koi"))

	cfg, err := scheduler.LoadConfig(filepath.Join(committedDir, "scheduler", "scheduler_config.json"))
	require.NoError(t, err)
	_, err = scheduler.New(cfg)
	require.NoError(t, err)
}

func readIO(t *testing.T, path string) (ins, outs []onnxpb.ValueInfo) {
	t.Helper()
	ins, outs, err := onnxpb.ReadGraphIO(path)
	require.NoError(t, err)
	return ins, outs
}

func names(vs []onnxpb.ValueInfo) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.Name
	}
	return out
}

func keys(m map[string][]byte) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
