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
// models.DefaultJobMemoryMB (2048), on the CPU capped at a quarter of the
// machine's memory so a job leaves room for the rest of the runner and its
// neighbours. A GPU gets the default too: its activations live in device
// memory, which is not measured here yet.
func JobBudget(settingMB int, gpu *int) int64 {
	if settingMB > 0 {
		return int64(settingMB) << 20
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
