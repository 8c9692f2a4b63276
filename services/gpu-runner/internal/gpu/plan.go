package gpu

import (
	"fmt"
	"strconv"
	"strings"

	"cyberimage/shared/bus"
)

// Slot is where one job at a time runs: a GPU (CUDA) or the CPU.
type Slot struct {
	// GPU is the CUDA device index, or nil for the CPU.
	GPU *int
}

// Name is "cpu" or "cuda:<index>".
func (s Slot) Name() string {
	if s.GPU == nil {
		return "cpu"
	}
	return "cuda:" + strconv.Itoa(*s.GPU)
}

// Plan turns the CYBERIMAGE_DEVICES setting into slots: "cpu" gives
// cpuSlots CPU slots; "auto" gives perGPU slots on every GPU found, or
// cpuSlots CPU slots when there is none; "0,2" gives perGPU slots on each
// listed GPU, which must exist.
func Plan(devices string, found []bus.GPU, perGPU, cpuSlots int) ([]Slot, error) {
	cpu := func() []Slot { return make([]Slot, cpuSlots) }
	switch devices = strings.TrimSpace(devices); devices {
	case "cpu":
		return cpu(), nil
	case "auto", "":
		if len(found) == 0 {
			return cpu(), nil
		}
		var slots []Slot
		for _, g := range found {
			slots = append(slots, gpuSlots(g.Index, perGPU)...)
		}
		return slots, nil
	}
	have := map[int]bool{}
	for _, g := range found {
		have[g.Index] = true
	}
	var slots []Slot
	seen := map[int]bool{}
	for _, field := range strings.Split(devices, ",") {
		idx, err := strconv.Atoi(strings.TrimSpace(field))
		if err != nil || idx < 0 {
			return nil, fmt.Errorf("devices %q: want auto, cpu or GPU indices like 0,1", devices)
		}
		if !have[idx] {
			return nil, fmt.Errorf("devices %q: no GPU %d (found %d)", devices, idx, len(found))
		}
		if !seen[idx] {
			seen[idx] = true
			slots = append(slots, gpuSlots(idx, perGPU)...)
		}
	}
	return slots, nil
}

func gpuSlots(index, n int) []Slot {
	slots := make([]Slot, n)
	for i := range slots {
		idx := index
		slots[i] = Slot{GPU: &idx}
	}
	return slots
}

// DeviceLabel summarises slots for heartbeats: "cpu" or "cuda:0,1".
func DeviceLabel(slots []Slot) string {
	var ids []string
	seen := map[int]bool{}
	for _, s := range slots {
		if s.GPU == nil {
			return "cpu"
		}
		if !seen[*s.GPU] {
			seen[*s.GPU] = true
			ids = append(ids, strconv.Itoa(*s.GPU))
		}
	}
	return "cuda:" + strings.Join(ids, ",")
}
