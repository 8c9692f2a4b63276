// Package benchstack is what the benchmark commands (bench, benchrecovery,
// benchscale) share to run the pipeline on this machine: child processes
// stopped in order on every exit path, the services built or taken
// prebuilt, MinIO, embedded JetStream servers, each service's NATS
// credentials, and the services themselves started and waited for. Each
// bench keeps only what it measures.
package benchstack

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Proc is one child process: a NATS node, MinIO, a service or a tool.
type Proc struct {
	// Name names its log file, logDir/<Name>.log, and its CPU figures.
	Name   string
	cmd    *exec.Cmd
	exited chan struct{}
}

// PID is the process's id.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Exited is closed once the process has exited.
func (p *Proc) Exited() <-chan struct{} { return p.exited }

// Kill sends SIGKILL, as a crashed host would vanish, and waits for the
// exit.
func (p *Proc) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// Freeze and Thaw stop and resume the process without it knowing: a host
// that hangs, a VM paused, a process stuck in the kernel.
func (p *Proc) Freeze() error { return p.cmd.Process.Signal(syscall.SIGSTOP) }

// Thaw resumes a process Freeze stopped.
func (p *Proc) Thaw() error { return p.cmd.Process.Signal(syscall.SIGCONT) }

// Stop resumes the process if frozen (a stopped process never handles
// SIGTERM), sends SIGTERM, and kills it after grace. Safe to call twice.
func (p *Proc) Stop(grace time.Duration) {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.Thaw()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(grace):
		p.Kill()
	}
}

// Procs starts children and stops every one of them, in the reverse order
// of starting, when the run ends on any path (StopAll, deferred).
type Procs struct {
	root, logDir string

	mu      sync.Mutex
	all     []*Proc
	started map[string]bool // names started before: their logs are appended to
}

// NewProcs starts children in root with their logs in logDir.
func NewProcs(root, logDir string) *Procs {
	return &Procs{root: root, logDir: logDir, started: map[string]bool{}}
}

// LogDir is the folder of the children's logs.
func (ps *Procs) LogDir() string { return ps.logDir }

// LogPath is where the child name writes its output.
func (ps *Procs) LogPath(name string) string { return filepath.Join(ps.logDir, name+".log") }

// Start runs bin with its output in logDir/<name>.log: a fresh file the
// first time, appended to when a name is started again (a runner brought
// back under its name writes on in its file). Its own process group keeps
// a terminal's Ctrl-C away from it, so the harness stops the children in
// order; Pdeathsig kills it if the harness dies without StopAll.
func (ps *Procs) Start(name, bin string, args, env []string) (*Proc, error) {
	ps.mu.Lock()
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if ps.started[name] {
		flags = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	ps.started[name] = true
	ps.mu.Unlock()
	logFile, err := os.OpenFile(ps.LogPath(name), flags, 0o644)
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
	p := &Proc{Name: name, cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); logFile.Close(); close(p.exited) }()
	ps.mu.Lock()
	ps.all = append(ps.all, p)
	ps.mu.Unlock()
	return p, nil
}

// All returns every child started so far, in start order.
func (ps *Procs) All() []*Proc {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return append([]*Proc(nil), ps.all...)
}

// StopAll stops the services before the stores they write to: every
// child in the reverse order of starting, each given 10 s to exit.
func (ps *Procs) StopAll() {
	ps.mu.Lock()
	all := ps.all
	ps.all = nil
	ps.mu.Unlock()
	for i := len(all) - 1; i >= 0; i-- {
		all[i].Stop(10 * time.Second)
	}
}
