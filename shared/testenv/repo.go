package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// RepoRoot finds the repository root (the folder holding go.work) from the
// test's working directory.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("getwd: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no go.work above the test's directory")
		}
		dir = parent
	}
}

// Tool locates a binary that `make tools` builds into .tools/: the
// environment variable wins, then the repo's tools folder. A missing tool
// fails the test with the command that builds it; it never skips.
func Tool(t testing.TB, envVar, relPath string) string {
	t.Helper()
	if p := os.Getenv(envVar); p != "" {
		return p
	}
	p := filepath.Join(RepoRoot(t), relPath)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s not found at %s (and %s unset): run `make tools` first", filepath.Base(relPath), p, envVar)
	}
	return p
}

// ORTLibrary is the ONNX Runtime shared library for tests.
func ORTLibrary(t testing.TB) string {
	return Tool(t, "CYBERIMAGE_ORT_LIB", ".tools/ort/libonnxruntime.so.1")
}
