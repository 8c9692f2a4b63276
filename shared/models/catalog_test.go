package models

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func writeManifest(t *testing.T, dir, name, body string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, name), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, name, ManifestFile), []byte(body), 0o644))
}

func TestLoadRepoCatalog(t *testing.T) {
	t.Parallel()
	c, err := Load("../../infra/models", "")
	require.NoError(t, err)
	require.Equal(t, "demo", c.Default())
	l, ok := c.Lookup("demo")
	require.True(t, ok)
	require.Equal(t, 8, l.DefaultSteps)
	m, _ := c.Manifest("demo")
	require.FileExists(t, m.Path())
}

func TestLoadRejectsBadManifests(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeManifest(t, dir, "a", `{"name":"b","pipeline":"cppn","file":"m.onnx","steps":{"default":4}}`)
	_, err := Load(dir, "")
	require.ErrorContains(t, err, "folder name")

	dir = t.TempDir()
	writeManifest(t, dir, "a", `{"name":"a","pipeline":"cppn","file":"m.onnx","steps":{"min":1,"max":4,"default":9}}`)
	_, err = Load(dir, "")
	require.ErrorContains(t, err, "steps.default")

	dir = t.TempDir()
	writeManifest(t, dir, "a", `{"name":"a","pipeline":"cppn","file":"m.onnx","steps":{"default":4}}`)
	_, err = Load(dir, "zzz")
	require.ErrorContains(t, err, "default model")
}
