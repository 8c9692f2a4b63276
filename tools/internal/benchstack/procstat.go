package benchstack

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ClockTick is USER_HZ, the unit of /proc CPU times (100 on Linux x86).
const ClockTick = 100.0

// ProcCPU is the CPU-seconds (user and system) process pid has used so
// far, from /proc/<pid>/stat; 0 when it is gone.
func ProcCPU(pid int) float64 {
	f := ProcStat(pid)
	if len(f) < 13 {
		return 0
	}
	// utime and stime are the 14th and 15th fields of the line.
	user, _ := strconv.ParseFloat(f[11], 64)
	sys, _ := strconv.ParseFloat(f[12], 64)
	return (user + sys) / ClockTick
}

// ProcStat is /proc/<pid>/stat from field 3 on (f[0] is field 3), or nil
// when the process is gone. The command name (field 2) may hold spaces;
// the fields after its ')' are plain: utime and stime are fields 14 and 15
// of the line, cutime and cstime 16 and 17.
func ProcStat(pid int) []string {
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

// ProcRSS is process pid's resident set now and at its peak, in MB, from
// /proc/<pid>/status; 0 when it is gone.
func ProcRSS(pid int) (rss, peak float64) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 64)
		if err != nil {
			continue
		}
		if name == "VmRSS" {
			rss = kb / 1024
		} else {
			peak = kb / 1024
		}
	}
	return rss, peak
}

// MachineCPU is the busy and total CPU-seconds of all cores so far, from
// /proc/stat: the busy share of a window includes every other tenant of
// the machine.
func MachineCPU() (busy, total float64) {
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
	return busy / ClockTick, (busy + v[3] + v[4]) / ClockTick
}
