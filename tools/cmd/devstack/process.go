package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// process is one child of the stack. A child that dies unasked is started
// again after a pause, as a process manager would: the runners rely on that
// when they exit to escape a hung inference.
type process struct {
	name string
	path string
	args []string
	env  []string
	// ready, when set, runs after the first start and must succeed before
	// the next process starts (MinIO must serve before it is provisioned
	// and before runners connect).
	ready func() error

	mu       sync.Mutex
	cmd      *exec.Cmd
	stopping bool
	exited   chan struct{}
}

// group starts its processes in order and stops them in stages.
type group struct {
	procs []*process
	// stages lists, stage by stage, the names stopped together.
	stages [][]string
}

func newGroup(procs []*process, stages [][]string) *group {
	return &group{procs: procs, stages: stages}
}

func (g *group) start() error {
	for _, p := range g.procs {
		if err := p.start(); err != nil {
			return err
		}
		if p.ready != nil {
			if err := p.ready(); err != nil {
				return fmt.Errorf("%s: %w", p.name, err)
			}
		}
	}
	return nil
}

// stop stops the children stage by stage; within a stage, all at once.
// Nothing is restarted from the moment stopping begins.
func (g *group) stop() {
	for _, p := range g.procs {
		p.mu.Lock()
		p.stopping = true
		p.mu.Unlock()
	}
	for _, stage := range g.stages {
		var wg sync.WaitGroup
		for _, p := range g.procs {
			for _, name := range stage {
				if p.name == name {
					wg.Add(1)
					go func() { defer wg.Done(); p.stop(40 * time.Second) }()
				}
			}
		}
		wg.Wait()
	}
}

var outMu sync.Mutex

// say prints one line prefixed with the name of its source.
func say(name, format string, args ...any) {
	outMu.Lock()
	defer outMu.Unlock()
	fmt.Printf("%-11s| %s\n", name, fmt.Sprintf(format, args...))
}

func (p *process) start() error {
	if _, err := os.Stat(p.path); err != nil {
		return fmt.Errorf("%s: %s missing (run `make build tools`)", p.name, p.path)
	}
	cmd := exec.Command(p.path, p.args...)
	cmd.Env = append(os.Environ(), p.env...)
	// Own process group: Ctrl-C in the terminal reaches devstack alone,
	// which then stops the children in order (otherwise they would all
	// get SIGINT at once and look like crashes to be restarted).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s: %w", p.name, err)
	}
	exited := make(chan struct{})
	var pipes sync.WaitGroup
	pipes.Add(2)
	go p.pipe(stdout, &pipes)
	go p.pipe(stderr, &pipes)
	p.mu.Lock()
	p.cmd, p.exited = cmd, exited
	p.mu.Unlock()
	go func() {
		pipes.Wait()
		err := cmd.Wait()
		close(exited)
		p.mu.Lock()
		stopping := p.stopping
		p.mu.Unlock()
		if stopping {
			return
		}
		say(p.name, "exited unexpectedly (%v); restarting in 2s", err)
		time.Sleep(2 * time.Second)
		p.mu.Lock()
		stopping = p.stopping
		p.mu.Unlock()
		if !stopping {
			if err := p.start(); err != nil {
				say(p.name, "restart failed: %v", err)
			}
		}
	}()
	return nil
}

func (p *process) pipe(r io.Reader, wg *sync.WaitGroup) {
	defer wg.Done()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		say(p.name, "%s", sc.Text())
	}
}

// stop sends SIGTERM and waits, then kills after grace.
func (p *process) stop(grace time.Duration) {
	p.mu.Lock()
	p.stopping = true
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(grace):
		say(p.name, "did not stop within %s; killing", grace)
		_ = cmd.Process.Kill()
		<-exited
	}
}
