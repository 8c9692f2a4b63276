package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// proc is one child process: a NATS node, MinIO or a service.
type proc struct {
	name   string
	cmd    *exec.Cmd
	exited chan struct{}
}

// kill sends SIGKILL, as a crashed host would vanish, and waits for the
// exit.
func (p *proc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// freeze and thaw stop and resume the process without it knowing: a host
// that hangs, a VM paused, a process stuck in the kernel.
func (p *proc) freeze() error { return p.cmd.Process.Signal(syscall.SIGSTOP) }
func (p *proc) thaw() error   { return p.cmd.Process.Signal(syscall.SIGCONT) }

// stop resumes the process if frozen (a stopped process never handles
// SIGTERM), sends SIGTERM, and kills it after grace. Safe to call twice.
func (p *proc) stop(grace time.Duration) {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.thaw()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(grace):
		p.kill()
	}
}

// procs starts children and stops every one of them, in the reverse order
// of starting, when the run ends on any path.
type procs struct {
	root, logDir string
	mu           sync.Mutex
	all          []*proc
}

// start runs bin with its output appended to logDir/<name>.log (a runner
// started again under its name writes on in the same file). Its own
// process group keeps a terminal's Ctrl-C away from it, so the harness
// stops the children in order; Pdeathsig kills it if the harness dies.
func (ps *procs) start(name, bin string, args, env []string) (*proc, error) {
	logFile, err := os.OpenFile(filepath.Join(ps.logDir, name+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = ps.root
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); logFile.Close(); close(p.exited) }()
	ps.mu.Lock()
	ps.all = append(ps.all, p)
	ps.mu.Unlock()
	return p, nil
}

// stopAll stops the services before the stores they write to: every
// child in the reverse order of starting.
func (ps *procs) stopAll() {
	ps.mu.Lock()
	all := ps.all
	ps.all = nil
	ps.mu.Unlock()
	for i := len(all) - 1; i >= 0; i-- {
		all[i].stop(10 * time.Second)
	}
}

// build compiles the three services into dir in one go build, so the two
// cores compile packages in parallel.
func build(ctx context.Context, root, dir string) (map[string]string, error) {
	pkgs := map[string]string{
		"ingest":     "./services/ingest/cmd/ingest",
		"gpu-runner": "./services/gpu-runner/cmd/gpu-runner",
		"supervisor": "./services/supervisor/cmd/supervisor",
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

// prebuilt takes the services from dir (make build's bin/, say).
func prebuilt(dir string) (map[string]string, error) {
	bins := map[string]string{}
	for _, name := range []string{"ingest", "gpu-runner", "supervisor"} {
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

// waitHTTP polls url until it answers 200, the process exits or limit ends.
func waitHTTP(ctx context.Context, p *proc, url string, limit time.Duration) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.exited:
			return fmt.Errorf("%s exited before it was ready (see its log)", p.name)
		default:
		}
		if resp, err := client.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready after %s", p.name, limit)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// repoRoot walks up from the working directory to the folder with go.work.
func repoRoot() (string, error) {
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

// toolPath is a pinned tool: the environment's (the Makefile exports
// them), else the one make tools builds into the repository.
func toolPath(root, env, rel string) string {
	if p := os.Getenv(env); p != "" {
		if abs, err := filepath.Abs(p); err == nil {
			return abs
		}
		return p
	}
	return filepath.Join(root, rel)
}
