package models

import (
	"bufio"
	"os"
	"strconv"
	"strings"

	"cyberimage/shared/config"
	"cyberimage/shared/job"
)

// DefaultJobMemoryMB is the job memory budget when CYBERIMAGE_JOB_MEMORY_MB
// is 0 and the device is not known (ingest cannot see the runners'
// devices) or is a GPU of unknown size. A CPU runner uses at most a
// quarter of the machine's memory.
const DefaultJobMemoryMB = 2048

// JobMemory is CYBERIMAGE_JOB_MEMORY_MB, the memory one job may use: the
// one home of the setting. Ingest reads it to refuse a request no runner
// could fit, the runner to size and slice jobs; both parse it here and
// resolve it here, with one meaning of 0 (sized for the device).
type JobMemory struct {
	// MB is the setting; 0 sizes the budget for the device (On, Bytes).
	MB int
}

// Bind binds the setting.
func (m *JobMemory) Bind(l *config.Loader) {
	l.Int(&m.MB, "job-memory-mb", 0, "MB one job may use beyond the idle runner; larger jobs are sliced or refused, and ingest refuses what cannot fit "+
		"(0: sized for the device: 80% of a GPU's memory shared by its slots, else 2048, capped at a quarter of the machine's memory on the CPU; ingest, which cannot see the devices, takes 2048)")
}

// Check checks the parsed setting.
func (m JobMemory) Check(l *config.Loader) {
	l.Check(m.MB >= 0, "CYBERIMAGE_JOB_MEMORY_MB must not be negative")
}

// Bytes is the budget where the device is not known (ingest): the
// setting, or DefaultJobMemoryMB.
func (m JobMemory) Bytes() int64 {
	if m.MB > 0 {
		return int64(m.MB) << 20
	}
	return DefaultJobMemoryMB << 20
}

// On is the budget of one job on a device (gpu nil: the CPU), in bytes. A
// positive setting is taken as is. 0 sizes it for the device:
//   - the CPU: DefaultJobMemoryMB (2048), capped at a quarter of the
//     machine's memory, so a job leaves room for the rest of the runner and
//     its neighbours;
//   - a GPU whose memory NVML reported (deviceMem > 0): 80% of it shared by
//     the jobs that run on it at once (slotsPerGPU), leaving a fifth for the
//     loaded models and the CUDA context;
//   - a GPU of unknown size: the CPU's fixed default.
func (m JobMemory) On(gpu *int, deviceMem int64, slotsPerGPU int) int64 {
	if m.MB > 0 {
		return int64(m.MB) << 20
	}
	if gpu != nil && deviceMem > 0 {
		return deviceMem * 8 / 10 / int64(max(slotsPerGPU, 1))
	}
	budget := m.Bytes()
	if gpu == nil {
		if total := physicalMemory(); total > 0 {
			budget = min(budget, total/4)
		}
	}
	return budget
}

// physicalMemory is the machine's memory in bytes from /proc/meminfo, or 0
// when unknown.
func physicalMemory() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kib, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0
			}
			return kib << 10
		}
	}
	return 0
}

// WithMemoryBudget is the catalog for validation under a job memory budget
// in bytes: every model's limits carry it, so Normalize refuses a job that
// cannot fit (memory_budget_exceeded). 0 checks nothing.
func (c *Catalog) WithMemoryBudget(bytes int64) job.Models {
	return budgeted{c: c, bytes: bytes}
}

type budgeted struct {
	c     *Catalog
	bytes int64
}

func (b budgeted) Default() string { return b.c.Default() }

func (b budgeted) Lookup(name string) (job.ModelLimits, bool) {
	l, ok := b.c.Lookup(name)
	l.MemoryBudget = b.bytes
	return l, ok
}
