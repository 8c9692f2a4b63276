package testenv

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// procSet is the server processes of a test cluster, one per node, each
// logging to <dir>/<name>.log: what the NATS and the MinIO cluster do alike
// to start, kill and wait for their nodes, and to show their logs when a
// test fails.
type procSet struct {
	t     testing.TB
	dir   string
	procs []*exec.Cmd
	exits []chan struct{}
}

func newProcSet(t testing.TB, n int) procSet {
	return procSet{t: t, dir: t.TempDir(), procs: make([]*exec.Cmd, n), exits: make([]chan struct{}, n)}
}

func (p *procSet) logPath(name string) string { return filepath.Join(p.dir, name+".log") }

// start starts cmd as node i, named name; it is killed with the test
// process, so a crashed test leaves no server behind.
func (p *procSet) start(i int, name string, cmd *exec.Cmd) {
	p.t.Helper()
	logFile, err := os.OpenFile(p.logPath(name), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		p.t.Fatalf("%s log: %v", name, err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("start %s: %v", name, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); logFile.Close(); close(exited) }()
	p.procs[i], p.exits[i] = cmd, exited
}

// up says whether node i runs (started and not killed).
func (p *procSet) up(i int) bool { return p.procs[i] != nil }

// kill kills node i with SIGKILL and waits for it to exit; a node already
// down is left alone.
func (p *procSet) kill(i int) {
	if p.procs[i] == nil {
		return
	}
	_ = p.procs[i].Process.Signal(syscall.SIGKILL)
	<-p.exits[i]
	p.procs[i] = nil
}

// signal sends sig to node i when it runs.
func (p *procSet) signal(i int, sig syscall.Signal) {
	if p.procs[i] != nil {
		_ = p.procs[i].Process.Signal(sig)
	}
}

// killAllAtEnd kills every node when the test ends, after dump shows their
// logs when it failed.
func (p *procSet) killAllAtEnd(dump func()) {
	p.t.Cleanup(func() {
		for i := range p.procs {
			p.kill(i)
		}
		if p.t.Failed() {
			dump()
		}
	})
}

// waitReady asks url every 100 ms until it answers 200 OK, for at most
// 60 s, and otherwise fails the test: with the end of the node's log when
// node i (named name) exits meanwhile, else with notReady (what the node
// still lacks, e.g. "not ready") and its last answer. The node is killed
// before the test fails, so none is left running even when the caller has
// not yet registered its cleanup.
func (p *procSet) waitReady(i int, name, url, notReady string) {
	p.t.Helper()
	deadline := time.After(60 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	last := "no answer"
	for {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = resp.Status
		}
		select {
		case <-p.exits[i]:
			p.kill(i)
			p.t.Fatalf("%s exited before it was ready:\n%s", name, p.logTail(name, everyLine))
		case <-deadline:
			p.kill(i)
			p.t.Fatalf("%s %s after 60s (last answer: %s)", name, notReady, last)
		case <-tick.C:
		}
	}
}

// logTail is the last 60 lines of node name's log that keep keeps.
func (p *procSet) logTail(name string, keep func(line string) bool) string {
	data, _ := os.ReadFile(p.logPath(name))
	var lines []string
	for line := range strings.SplitSeq(strings.TrimSpace(string(data)), "\n") {
		if keep(line) {
			lines = append(lines, line)
		}
	}
	return strings.Join(lines[max(0, len(lines)-60):], "\n")
}

// everyLine is logTail's keep for a log shown whole.
func everyLine(string) bool { return true }
