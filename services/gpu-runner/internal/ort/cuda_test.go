package ort

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCUDAProviderProblemNamesMissingFiles(t *testing.T) {
	dir := t.TempDir()
	lib := filepath.Join(dir, "libonnxruntime.so.1")
	err := CUDAProviderProblem(lib)
	require.ErrorContains(t, err, "libonnxruntime_providers_shared.so is missing")
	require.ErrorContains(t, err, "libonnxruntime_providers_cuda.so is missing")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "libonnxruntime_providers_shared.so"), nil, 0o644))
	err = CUDAProviderProblem(lib)
	require.NotContains(t, err.Error(), "providers_shared")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "libonnxruntime_providers_cuda.so"), nil, 0o644))
	require.NoError(t, CUDAProviderProblem(lib))
}
