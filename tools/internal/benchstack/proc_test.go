package benchstack

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func waitExit(t *testing.T, p *Proc) {
	t.Helper()
	select {
	case <-p.Exited():
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not exit within 10s", p.Name)
	}
}

// A name started again writes on in its log (a runner brought back keeps
// its history); a name's first start begins a fresh log, whatever an
// earlier run left there.
func TestLogIsFreshOnFirstStartAndAppendedOnRestart(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "echo.log"), []byte("from an earlier run\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ps := NewProcs(dir, dir)
	defer ps.StopAll()
	for _, word := range []string{"first", "second"} {
		p, err := ps.Start("echo", "/bin/sh", []string{"-c", "echo " + word}, nil)
		if err != nil {
			t.Fatal(err)
		}
		waitExit(t, p)
	}
	data, err := os.ReadFile(ps.LogPath("echo"))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(data); got != "first\nsecond\n" {
		t.Fatalf("log holds %q, want both starts' output and nothing older", got)
	}
}

// A frozen process never handles SIGTERM: Stop thaws it first, so it
// exits on SIGTERM well within the grace it is given, and StopAll leaves
// nothing running.
func TestStopEndsAFrozenProcessWithSIGTERM(t *testing.T) {
	dir := t.TempDir()
	ps := NewProcs(dir, dir)
	p, err := ps.Start("sleeper", "/bin/sh", []string{"-c", "trap 'echo term; exit 0' TERM; echo ready; while :; do sleep 0.05; done"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Freeze it only once its trap is set, or SIGTERM's default would end
	// it without the trap.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for data, _ := os.ReadFile(ps.LogPath("sleeper")); !strings.Contains(string(data), "ready"); data, _ = os.ReadFile(ps.LogPath("sleeper")) {
		select {
		case <-deadline:
			t.Fatal("the shell did not set its trap within 10s")
		case <-tick.C:
		}
	}
	if err := p.Freeze(); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	ps.StopAll()
	if took := time.Since(began); took > 5*time.Second {
		t.Fatalf("stop took %s: the frozen process was killed after the grace, not ended by SIGTERM", took)
	}
	waitExit(t, p)
	data, _ := os.ReadFile(ps.LogPath("sleeper"))
	if !strings.Contains(string(data), "term") {
		t.Fatalf("log %q: the process never handled SIGTERM", data)
	}
	if len(ps.All()) != 0 {
		t.Fatalf("StopAll left %d children listed", len(ps.All()))
	}
}

// Waiting for a service that exits fails at once, naming it, instead of
// polling until the limit.
func TestWaitHTTPFailsWhenTheProcessExits(t *testing.T) {
	dir := t.TempDir()
	ps := NewProcs(dir, dir)
	defer ps.StopAll()
	p, err := ps.Start("quitter", "/bin/sh", []string{"-c", "exit 3"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := LoopbackAddr()
	if err != nil {
		t.Fatal(err)
	}
	err = WaitHTTP(context.Background(), p, "http://"+addr+"/healthz", time.Minute)
	if err == nil || !strings.Contains(err.Error(), "quitter exited") {
		t.Fatalf("WaitHTTP = %v, want an error saying quitter exited", err)
	}
}
