package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"cyberimage/tools/internal/benchstack"
)

// profiler CPU-profiles the throughput phase: the harness (which hosts the
// NATS server) with runtime/pprof, and the service processes with perf,
// sampling at a low rate. The services have no profiling switch of their
// own, and perf needs none.
type profiler struct {
	out      string
	pprofOut *os.File
	perf     *exec.Cmd
	perfDone chan struct{}
	procs    []string
}

func startProfile(out string, procs []*benchstack.Proc) (*profiler, error) {
	pr := &profiler{out: out}
	f, err := os.Create(filepath.Join(out, "harness-cpu.pprof"))
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("pprof: %w", err)
	}
	pr.pprofOut = f
	perf, err := exec.LookPath("perf")
	if err != nil || len(procs) == 0 {
		return pr, nil
	}
	pids := make([]string, len(procs))
	for i, p := range procs {
		pids[i] = strconv.Itoa(p.PID())
		pr.procs = append(pr.procs, p.Name)
	}
	cmd := exec.Command(perf, "record", "-q", "-F", "199", "-g", "-o", filepath.Join(out, "services.perf.data"), "-p", strings.Join(pids, ","))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return pr, nil // profile the harness alone
	}
	pr.perf, pr.perfDone = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); close(pr.perfDone) }()
	time.Sleep(500 * time.Millisecond) // perf attaches before the burst
	return pr, nil
}

func (pr *profiler) describe() string {
	s := "pprof of the harness and NATS server"
	if pr.perf != nil {
		s += "; perf of " + strings.Join(pr.procs, ", ")
	}
	return s
}

// stop ends the profiles and writes their text summaries; it returns the
// files written.
func (pr *profiler) stop(say func(string, ...any)) []string {
	pprof.StopCPUProfile()
	pr.pprofOut.Close()
	files := []string{"harness-cpu.pprof"}
	if top, err := exec.Command("go", "tool", "pprof", "-top", "-nodecount=40", pr.pprofOut.Name()).Output(); err == nil {
		if os.WriteFile(filepath.Join(pr.out, "harness-cpu.txt"), top, 0o644) == nil {
			files = append(files, "harness-cpu.txt")
		}
	}
	if pr.perf == nil {
		return files
	}
	_ = pr.perf.Process.Signal(syscall.SIGINT)
	select {
	case <-pr.perfDone:
	case <-time.After(30 * time.Second):
		_ = pr.perf.Process.Kill()
		<-pr.perfDone
	}
	files = append(files, "services.perf.data")
	data := filepath.Join(pr.out, "services.perf.data")
	reports := []struct{ file, sort string }{
		{"services-perf-by-process.txt", "comm"},
		{"services-perf-top.txt", "comm,dso,sym"},
	}
	for _, r := range reports {
		text, err := exec.Command("perf", "report", "-i", data, "--no-children", "--sort", r.sort, "--stdio", "-g", "none", "--percent-limit", "0.3").Output()
		if err != nil {
			say("perf report: %v", err)
			continue
		}
		if os.WriteFile(filepath.Join(pr.out, r.file), text, 0o644) == nil {
			files = append(files, r.file)
		}
	}
	return files
}
