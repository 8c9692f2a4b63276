package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// The model folders tests give runners instead of infra/models: copies of
// the demo model under other names, or with a file that cannot load.

// writeModel makes a cppn model folder name in dir whose manifest gives
// defaultSteps as its default; its model file is the demo model's, linked,
// or, where onnx is not nil, those bytes.
func writeModel(t *testing.T, dir, name string, defaultSteps int, onnx []byte) {
	t.Helper()
	md := filepath.Join(dir, name)
	require.NoError(t, os.MkdirAll(md, 0o755))
	manifest := `{"name":"` + name + `","pipeline":"cppn","file":"model.onnx","steps":{"min":1,"max":50,"default":` +
		strconv.Itoa(defaultSteps) + `}}`
	require.NoError(t, os.WriteFile(filepath.Join(md, "manifest.json"), []byte(manifest), 0o644))
	if onnx != nil {
		require.NoError(t, os.WriteFile(filepath.Join(md, "model.onnx"), onnx, 0o644))
		return
	}
	require.NoError(t, os.Symlink(repoPath(t, "infra", "models", "demo", "model.onnx"), filepath.Join(md, "model.onnx")))
}

// twoModels makes a models folder with two copies of the demo model.
func twoModels(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"demo", "swirl"} {
		writeModel(t, dir, name, 2, nil)
	}
	return dir
}

// copyDemoModel copies the demo model into a folder of the test's own,
// which a test may break and mend.
func copyDemoModel(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src := repoPath(t, "infra", "models", "demo")
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "demo"), 0o755))
	entries, err := os.ReadDir(src)
	require.NoError(t, err)
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "demo", e.Name()), data, 0o644))
	}
	return dir
}
