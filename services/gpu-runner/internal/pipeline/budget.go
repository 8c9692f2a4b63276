package pipeline

import (
	"bufio"
	"os"
	"strconv"
	"strings"

	"cyberimage/shared/models"
)

// JobBudget is the memory one job may use on a device (gpu nil: the CPU),
// in bytes. A positive setting is taken as is. 0 sizes it for the device:
//   - the CPU: models.DefaultJobMemoryMB (2048), capped at a quarter of the
//     machine's memory, so a job leaves room for the rest of the runner and
//     its neighbours;
//   - a GPU whose memory NVML reported (deviceMem > 0): 80% of it shared by
//     the jobs that run on it at once (slotsPerGPU), leaving a fifth for the
//     loaded models and the CUDA context;
//   - a GPU of unknown size: the CPU's fixed default.
func JobBudget(settingMB int, gpu *int, deviceMem int64, slotsPerGPU int) int64 {
	if settingMB > 0 {
		return int64(settingMB) << 20
	}
	if gpu != nil && deviceMem > 0 {
		return deviceMem * 8 / 10 / int64(max(slotsPerGPU, 1))
	}
	budget := models.JobMemoryBytes(0)
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
