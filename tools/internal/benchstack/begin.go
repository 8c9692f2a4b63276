package benchstack

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Run is what every bench run starts from: when it began, its progress
// lines (Progress) and the repository's root.
type Run struct {
	Began time.Time
	Say   func(format string, args ...any)
	Root  string
}

// Begin starts a bench run: its context (Context: Ctrl-C, SIGTERM or the
// deadline end it), its progress lines from now, and the repository's
// root. stop releases the context; Begin calls it itself on an error.
func Begin(deadline time.Duration) (ctx context.Context, r Run, stop context.CancelFunc, err error) {
	ctx, stop = Context(deadline)
	r.Began = time.Now()
	r.Say = Progress(r.Began)
	if r.Root, err = RepoRoot(); err != nil {
		stop()
		return nil, Run{}, nil, err
	}
	return ctx, r, stop, nil
}

// BeginIn is Begin for a bench that works in a scratch folder of its own,
// tmp (named prefix followed by random characters). stop also removes
// tmp, except with keep, when Begin's progress lines name it instead, so
// what the run left there can be read after it.
func BeginIn(deadline time.Duration, prefix string, keep bool) (ctx context.Context, r Run, tmp string, stop func(), err error) {
	ctx, r, end, err := Begin(deadline)
	if err != nil {
		return nil, Run{}, "", nil, err
	}
	if tmp, err = os.MkdirTemp("", prefix); err != nil {
		end()
		return nil, Run{}, "", nil, err
	}
	if keep {
		r.Say("keeping %s", tmp)
		return ctx, r, tmp, end, nil
	}
	return ctx, r, tmp, func() { _ = os.RemoveAll(tmp); end() }, nil
}

// A Tool is a pinned binary the Makefile builds: the variable that names
// it, and where make tools puts it in the repository (ToolPath).
type Tool struct{ Env, Rel string }

// The pinned tools the benches run.
var (
	ORTLib        = Tool{"CYBERIMAGE_ORT_LIB", ".tools/ort/libonnxruntime.so.1"}
	MinIOBin      = Tool{"CYBERIMAGE_MINIO_BIN", ".tools/bin/minio"}
	NATSServerBin = Tool{"CYBERIMAGE_NATS_SERVER_BIN", ".tools/bin/nats-server"}
)

// Path is where the tool is for the repository at root.
func (t Tool) Path(root string) string { return ToolPath(root, t.Env, t.Rel) }

// Tools returns the paths of tools, in order, or an error naming the first
// that is missing.
func (r Run) Tools(tools ...Tool) ([]string, error) {
	paths := make([]string, len(tools))
	for i, t := range tools {
		paths[i] = t.Path(r.Root)
		if _, err := os.Stat(paths[i]); err != nil {
			return nil, fmt.Errorf("%s missing: run `make tools` first", paths[i])
		}
	}
	return paths, nil
}

// Out is the -out folder: relative to the repository's root unless
// absolute.
func (r Run) Out(out string) string {
	if filepath.IsAbs(out) {
		return out
	}
	return filepath.Join(r.Root, out)
}

// CleanLogDir makes out's logs folder afresh and returns it: a process's
// log from an earlier run (one with more runners, say) would read as this
// run's.
func CleanLogDir(out string) (string, error) {
	logDir := filepath.Join(out, "logs")
	if err := os.RemoveAll(logDir); err != nil {
		return "", err
	}
	return logDir, os.MkdirAll(logDir, 0o755)
}

// Binaries are pkgs' binaries (name → package): taken from binDir when it
// is set (Prebuilt, to compare two builds on the same harness), else built
// into dir (Build).
func (r Run) Binaries(ctx context.Context, binDir, dir string, pkgs map[string]string) (map[string]string, error) {
	if binDir != "" {
		return Prebuilt(binDir, pkgs)
	}
	names := make([]string, 0, len(pkgs))
	for name := range pkgs {
		names = append(names, name)
	}
	slices.Sort(names)
	r.Say("build: %s", strings.Join(names, ", "))
	return Build(ctx, r.Root, dir, pkgs)
}
