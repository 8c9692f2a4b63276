package main

import (
	"strconv"
	"syscall"
	"time"

	"cyberimage/tools/internal/benchstack"
)

// cpuSample is a reading of CPU time used so far: by the harness (which
// hosts the NATS server), by each child process, and by the whole machine,
// so a phase can say where its CPU went and how much other tenants of this
// shared machine took meanwhile.
type cpuSample struct {
	at       time.Time
	harness  float64
	procs    map[string]float64
	sys      map[string]float64 // the kernel's part of procs and harness
	machine  float64            // busy CPU-seconds, all processes
	capacity float64            // CPU-seconds available, busy or idle
}

// cpuUse is the CPU spent during one phase, in CPU-seconds.
type cpuUse struct {
	WallSeconds float64            `json:"wall_seconds"`
	Cores       int                `json:"cores"`
	ByProcess   map[string]float64 `json:"by_process"` // "nats+harness", "minio", "ingest", "runner-1", ...
	// KernelShare is the part of each process's CPU spent in the kernel
	// (system calls, network, futex wake-ups).
	KernelShare map[string]float64 `json:"kernel_share"`
	Ours        float64            `json:"ours"`
	Machine     float64            `json:"machine"`
	Others      float64            `json:"others"` // other tenants of the machine
}

func sampleCPU(procs []*benchstack.Proc) cpuSample {
	s := cpuSample{at: time.Now(), procs: map[string]float64{}, sys: map[string]float64{}}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.harness = tv(ru.Utime) + tv(ru.Stime)
		s.sys[harnessName] = tv(ru.Stime)
	}
	for _, p := range procs {
		user, sys := procCPU(p.PID())
		s.procs[p.Name], s.sys[p.Name] = user+sys, sys
	}
	s.machine, s.capacity = benchstack.MachineCPU()
	return s
}

// since is the CPU used between an earlier sample and s.
func (s cpuSample) since(earlier cpuSample, cores int) cpuUse {
	u := cpuUse{WallSeconds: s.at.Sub(earlier.at).Seconds(), Cores: cores, ByProcess: map[string]float64{}, KernelShare: map[string]float64{}}
	u.ByProcess[harnessName] = s.harness - earlier.harness
	for name, v := range s.procs {
		if before, ok := earlier.procs[name]; ok && v >= before {
			u.ByProcess[name] = v - before
		}
	}
	for name, total := range u.ByProcess {
		if total > 0 {
			u.KernelShare[name] = round3((s.sys[name] - earlier.sys[name]) / total)
		}
	}
	for _, v := range u.ByProcess {
		u.Ours += v
	}
	u.Machine = s.machine - earlier.machine
	u.Others = max(0, u.Machine-u.Ours)
	for k, v := range u.ByProcess {
		u.ByProcess[k] = round3(v)
	}
	u.Ours, u.Machine, u.Others = round3(u.Ours), round3(u.Machine), round3(u.Others)
	return u
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

// harnessName is how the harness process, which hosts the NATS server,
// appears in the CPU tables.
const harnessName = "nats+harness"

// procCPU reads utime and stime of a process from /proc/<pid>/stat, in
// seconds; 0 when it is gone.
func procCPU(pid int) (user, sys float64) {
	f := benchstack.ProcStat(pid)
	if len(f) < 13 {
		return 0, 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return ut / benchstack.ClockTick, st / benchstack.ClockTick
}
