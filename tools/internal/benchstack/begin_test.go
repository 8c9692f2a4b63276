package benchstack

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRunFolders: -out is taken from the repository's root unless
// absolute, its logs folder starts empty, and a missing tool is named.
func TestRunFolders(t *testing.T) {
	root := t.TempDir()
	r := Run{Root: root, Say: func(string, ...any) {}}
	if got := r.Out("bench-out"); got != filepath.Join(root, "bench-out") {
		t.Errorf("Out(relative) = %s", got)
	}
	if got := r.Out("/elsewhere"); got != "/elsewhere" {
		t.Errorf("Out(absolute) = %s", got)
	}
	out := r.Out("bench-out")
	stale := filepath.Join(out, "logs", "runner-9.log")
	if err := os.MkdirAll(filepath.Dir(stale), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stale, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	logDir, err := CleanLogDir(out)
	if err != nil {
		t.Fatal(err)
	}
	if entries, err := os.ReadDir(logDir); err != nil || len(entries) != 0 {
		t.Errorf("logs folder: %v entries, err %v; want it empty", len(entries), err)
	}

	t.Setenv(MinIOBin.Env, "")
	if _, err := r.Tools(MinIOBin); err == nil || !strings.Contains(err.Error(), "make tools") {
		t.Errorf("Tools with no MinIO: %v", err)
	}
	bin := filepath.Join(root, "minio")
	if err := os.WriteFile(bin, nil, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv(MinIOBin.Env, bin)
	if paths, err := r.Tools(MinIOBin); err != nil || paths[0] != bin {
		t.Errorf("Tools = %v, %v; want %s", paths, err, bin)
	}
	// -bin takes the binaries as they are, building nothing.
	bins, err := r.Binaries(context.Background(), root, filepath.Join(root, "bin"), map[string]string{"minio": "./nowhere"})
	if err != nil || bins["minio"] != bin {
		t.Errorf("Binaries(prebuilt) = %v, %v", bins, err)
	}
}

// TestBeginInScratchFolder: BeginIn's stop removes the scratch folder and
// ends the context, except with keep, when the folder stays.
func TestBeginInScratchFolder(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	for _, keep := range []bool{false, true} {
		ctx, _, tmp, stop, err := BeginIn(time.Minute, "benchstack-test-", keep)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(filepath.Base(tmp), "benchstack-test-") {
			t.Errorf("scratch folder %s", tmp)
		}
		if _, err := os.Stat(tmp); err != nil {
			t.Fatalf("scratch folder not made: %v", err)
		}
		stop()
		if ctx.Err() == nil {
			t.Error("stop left the context running")
		}
		if _, err := os.Stat(tmp); keep != (err == nil) {
			t.Errorf("keep %v: after stop, stat gives %v", keep, err)
		}
	}
}
