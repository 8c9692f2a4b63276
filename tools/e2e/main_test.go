// Package e2e runs the three services as real processes against an
// in-process NATS server and a real MinIO server, and checks the promises
// of the contract from the outside: every accepted job completes exactly
// once with its images, bad requests are answered and disturb nothing, and
// a killed runner loses no job.
package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// bins holds the service binaries, built once for the whole run.
var bins = map[string]string{}

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "cyberimage-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	for name, pkg := range map[string]string{
		"ingest":     "cyberimage/services/ingest/cmd/ingest",
		"gpu-runner": "cyberimage/services/gpu-runner/cmd/gpu-runner",
		"supervisor": "cyberimage/services/supervisor/cmd/supervisor",
	} {
		out := filepath.Join(dir, name)
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n", name, err)
			return 1
		}
		bins[name] = out
	}
	return m.Run()
}
