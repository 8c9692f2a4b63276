// Package ort is the runner's only cgo boundary: a small wrapper over
// github.com/yalue/onnxruntime_go exposing plain Go tensors, so the rest of
// the runner never touches ORT values, their lifetimes or its C API.
package ort

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"

	onnx "github.com/yalue/onnxruntime_go"
)

// The ORT environment is process-global in onnxruntime_go (one dlopen'd
// library, one OrtEnv), so Init guards it with package state.
var (
	envMu   sync.Mutex
	envPath string // cleaned path of the loaded library; "" until Init succeeds
)

// errNotInitialized is returned by Open before a successful Init.
var errNotInitialized = errors.New("ort: Init has not been called")

// Init loads the ORT shared library at libPath and initializes the environment
// once per process. Later calls with the same path are no-ops; a different
// path is an error. A failed Init may be retried.
func Init(libPath string) error {
	if libPath == "" {
		return errors.New("ort: empty shared library path")
	}
	clean := filepath.Clean(libPath)

	envMu.Lock()
	defer envMu.Unlock()
	if envPath != "" {
		if clean != envPath {
			return fmt.Errorf("ort: already initialized with %q, cannot switch to %q", envPath, clean)
		}
		return nil
	}
	onnx.SetSharedLibraryPath(clean)
	if err := onnx.InitializeEnvironment(); err != nil {
		return fmt.Errorf("ort: initialize with %q: %w", clean, err)
	}
	envPath = clean
	mmapLargeAllocations()
	return nil
}

// initialized reports whether Init has succeeded.
func initialized() bool {
	envMu.Lock()
	defer envMu.Unlock()
	return envPath != ""
}
