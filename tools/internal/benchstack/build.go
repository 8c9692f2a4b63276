package benchstack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// ServicePackages are the pipeline's services by binary name.
var ServicePackages = map[string]string{
	"ingest":     "./services/ingest/cmd/ingest",
	"gpu-runner": "./services/gpu-runner/cmd/gpu-runner",
	"supervisor": "./services/supervisor/cmd/supervisor",
}

// Build compiles pkgs (binary name → package) into dir in one go build, so
// the cores compile packages in parallel, and returns each binary's path.
func Build(ctx context.Context, root, dir string, pkgs map[string]string) (map[string]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	bins := map[string]string{}
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	for name, pkg := range pkgs {
		args = append(args, pkg)
		bins[name] = filepath.Join(dir, name)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go build: %w", err)
	}
	return bins, nil
}

// Prebuilt takes the binaries of pkgs from dir (make build's bin/, say)
// instead of building them, to compare two builds on the same harness.
func Prebuilt(dir string, pkgs map[string]string) (map[string]string, error) {
	bins := map[string]string{}
	for name := range pkgs {
		p, err := filepath.Abs(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("-bin: %w", err)
		}
		bins[name] = p
	}
	return bins, nil
}

// RepoRoot walks up from the working directory to the folder with go.work.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.work above the working directory: run from the repository")
		}
		dir = parent
	}
}

// ToolPath is a pinned tool: the environment's (the Makefile exports
// them), else the one make tools builds into the repository.
func ToolPath(root, env, rel string) string {
	if p := os.Getenv(env); p != "" {
		if abs, err := filepath.Abs(p); err == nil {
			return abs
		}
		return p
	}
	return filepath.Join(root, rel)
}
