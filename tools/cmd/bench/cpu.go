package main

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"cyberimage/tools/internal/benchstack"
)

// clockTick is USER_HZ, the unit of /proc CPU times (100 on Linux x86).
const clockTick = 100.0

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
	s.machine, s.capacity = machineCPU()
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
	f := procStat(pid)
	if len(f) < 13 {
		return 0, 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return ut / clockTick, st / clockTick
}

// procStat is /proc/<pid>/stat from field 3 on (f[0] is field 3), or nil
// when the process is gone. The command name (field 2) may hold spaces;
// the fields after its ')' are plain: utime and stime are fields 14 and 15
// of the line, cutime and cstime 16 and 17.
func procStat(pid int) []string {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	rest := string(data)
	if i := strings.LastIndexByte(rest, ')'); i >= 0 {
		rest = rest[i+1:]
	}
	return strings.Fields(rest)
}

// machineCPU reads busy and total CPU-seconds of all cores from /proc/stat.
func machineCPU() (busy, total float64) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0
	}
	var v [8]float64
	for i := range v {
		v[i], _ = strconv.ParseFloat(f[i+1], 64)
	}
	// user nice system idle iowait irq softirq steal
	busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7]
	return busy / clockTick, (busy + v[3] + v[4]) / clockTick
}
