// Package gpu finds NVIDIA GPUs through NVML and reads their telemetry. All
// NVML cgo lives here.
package gpu

import (
	"sync"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"go.uber.org/zap"

	"cyberimage/shared/bus"
)

// NVML is an open NVML session; the zero GPU list means CPU only.
type NVML struct {
	log     *zap.Logger
	mu      sync.Mutex
	devices []nvml.Device
	static  []bus.GPU
	open    bool
}

// Open initialises NVML and lists the GPUs. With no driver or no GPU it
// logs one line and returns an NVML with no GPUs: the runner uses the CPU.
//
// Only nvml.Init may be called before Init succeeded: any other NVML
// function resolves its symbol lazily and kills the process when the library
// is missing.
func Open(logger *zap.Logger) *NVML {
	n := &NVML{log: logger}
	if ret := nvml.Init(); ret != nvml.SUCCESS {
		logger.Info("no NVIDIA GPU available; running on CPU", zap.String("nvml", nvml.ErrorString(ret)))
		return n
	}
	n.open = true
	driver, _ := nvml.SystemGetDriverVersion()
	count, ret := nvml.DeviceGetCount()
	if ret != nvml.SUCCESS {
		logger.Warn("NVML device count failed; running on CPU", zap.String("nvml", nvml.ErrorString(ret)))
		return n
	}
	for i := range count {
		dev, ret := nvml.DeviceGetHandleByIndex(i)
		if ret != nvml.SUCCESS {
			logger.Warn("NVML device handle", zap.Int("index", i), zap.String("nvml", nvml.ErrorString(ret)))
			continue
		}
		g := bus.GPU{Index: i, Driver: driver}
		g.UUID, _ = dev.GetUUID()
		g.Name, _ = dev.GetName()
		n.devices = append(n.devices, dev)
		n.static = append(n.static, g)
	}
	logger.Info("GPUs found", zap.Int("count", len(n.static)), zap.String("driver", driver))
	return n
}

// GPUs returns every GPU with its telemetry now: memory, utilisation,
// temperature and power. Readings a GPU does not support stay zero.
func (n *NVML) GPUs() []bus.GPU {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]bus.GPU, len(n.static))
	for i, dev := range n.devices {
		g := n.static[i]
		if mem, ret := dev.GetMemoryInfo(); ret == nvml.SUCCESS {
			g.MemoryTotal, g.MemoryUsed = mem.Total, mem.Used
		}
		if u, ret := dev.GetUtilizationRates(); ret == nvml.SUCCESS {
			g.UtilizationPercent = u.Gpu
		}
		if t, ret := dev.GetTemperature(nvml.TEMPERATURE_GPU); ret == nvml.SUCCESS {
			g.TemperatureC = t
		}
		if mw, ret := dev.GetPowerUsage(); ret == nvml.SUCCESS {
			g.PowerWatts = float64(mw) / 1000
		}
		out[i] = g
	}
	return out
}

// Close shuts NVML down.
func (n *NVML) Close() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.open {
		nvml.Shutdown()
		n.open = false
	}
}
