package main

import (
	"bufio"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"cyberimage/tools/internal/benchstack"
)

// perfFreq is perf's sampling rate: about 2 ms of CPU per sample.
const perfFreq = 499

// profile samples one process's stacks with perf for d: the supervisor
// has no timer of its own around a watchdog pass, and perf needs none.
type profile struct {
	proc *benchstack.Proc
	file string
}

func startProfile(ps *benchstack.Procs, name string, pid int, file string, d time.Duration) (*profile, error) {
	bin, err := exec.LookPath("perf")
	if err != nil {
		return nil, err
	}
	p, err := ps.Start(name, bin, []string{"record", "-q", "-F", strconv.Itoa(perfFreq), "-g", "-p", strconv.Itoa(pid), "-o", file,
		"--", "sleep", strconv.Itoa(int(d.Seconds()))}, nil)
	if err != nil {
		return nil, err
	}
	return &profile{proc: p, file: file}, nil
}

// cpuProfile is where a process's sampled CPU went: by the supervisor
// component whose code was running (the innermost cyberimage frame), and
// the samples inside a watchdog pass and a runner-loss pass.
type cpuProfile struct {
	samples     int
	byComponent map[string]int
	pass, lost  int
}

// finish waits for perf and reads its samples.
func (p *profile) finish() (cpuProfile, error) {
	select {
	case <-p.proc.Exited():
	case <-time.After(30 * time.Second):
		p.proc.Stop(5 * time.Second)
	}
	cmd := exec.Command("perf", "script", "-i", p.file, "-F", "ip,sym")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return cpuProfile{}, err
	}
	if err := cmd.Start(); err != nil {
		return cpuProfile{}, err
	}
	cp := cpuProfile{byComponent: map[string]int{}}
	var stack []string
	flush := func() {
		if len(stack) == 0 {
			return
		}
		cp.samples++
		cp.byComponent[component(stack)]++
		joined := strings.Join(stack, "\n")
		if strings.Contains(joined, "(*Watchdog).runOnce") {
			cp.pass++
		}
		if strings.Contains(joined, "(*Watchdog).LostPass") {
			cp.lost++
		}
		stack = stack[:0]
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			flush()
			continue
		}
		if _, sym, ok := strings.Cut(line, " "); ok {
			stack = append(stack, sym)
		}
	}
	flush()
	if err := cmd.Wait(); err != nil {
		return cp, fmt.Errorf("perf script: %w", err)
	}
	return cp, nil
}

// component names the code a sample was in: the supervisor's innermost
// package on the stack (tracker, acks, index, api, ...: whose work it
// was, even when a shared decoder or the JSON library ran), else a shared
// package of ours, else the NATS client, the garbage collector or the
// rest of the runtime.
func component(stack []string) string {
	for _, prefix := range []string{"cyberimage/services/supervisor/internal/", "cyberimage/shared/", "cyberimage/"} {
		for _, f := range stack {
			if rest, ok := strings.CutPrefix(f, prefix); ok {
				if i := strings.IndexByte(rest, '.'); i >= 0 {
					rest = rest[:i]
				}
				return rest
			}
		}
	}
	joined := strings.Join(stack, "\n")
	switch {
	case strings.Contains(joined, "nats-io/nats.go"):
		return "nats.go client"
	case strings.Contains(joined, "gcBgMarkWorker") || strings.Contains(joined, "runtime.gcDrain") || strings.Contains(joined, "runtime.mallocgc"):
		return "go gc/alloc"
	case strings.Contains(joined, "net/http"):
		return "net/http"
	case strings.Contains(joined, "runtime.schedule") || strings.Contains(joined, "runtime.findRunnable") ||
		strings.Contains(joined, "runtime.mcall") || strings.Contains(joined, "runtime.park_m"):
		return "go scheduler"
	case strings.Contains(joined, "internal/poll") || strings.Contains(joined, "syscall.") || strings.Contains(joined, "runtime.netpoll"):
		return "syscalls, poll"
	case strings.Contains(joined, "runtime.sysmon") || strings.Contains(joined, "runtime.timer") || strings.Contains(joined, "runtime.(*timers)"):
		return "go timers, sysmon"
	}
	return "other"
}
