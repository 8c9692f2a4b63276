// Package gpu finds NVIDIA GPUs through NVML. All NVML cgo lives here.
package gpu

import (
	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"go.uber.org/zap"

	"cyberimage/shared/bus"
)

// Detect lists the GPUs NVML sees. With no driver or no GPU it logs one line
// and returns none: the runner then uses the CPU.
//
// Only nvml.Init may be called before Init succeeded: any other NVML
// function resolves its symbol lazily and kills the process when the library
// is missing.
func Detect(logger *zap.Logger) []bus.GPU {
	if ret := nvml.Init(); ret != nvml.SUCCESS {
		logger.Info("no NVIDIA GPU available; running on CPU", zap.String("nvml", nvml.ErrorString(ret)))
		return nil
	}
	defer nvml.Shutdown()
	driver, _ := nvml.SystemGetDriverVersion()
	count, ret := nvml.DeviceGetCount()
	if ret != nvml.SUCCESS {
		logger.Warn("NVML device count failed; running on CPU", zap.String("nvml", nvml.ErrorString(ret)))
		return nil
	}
	gpus := make([]bus.GPU, 0, count)
	for i := range count {
		dev, ret := nvml.DeviceGetHandleByIndex(i)
		if ret != nvml.SUCCESS {
			logger.Warn("NVML device handle", zap.Int("index", i), zap.String("nvml", nvml.ErrorString(ret)))
			continue
		}
		g := bus.GPU{Index: i, Driver: driver}
		g.UUID, _ = dev.GetUUID()
		g.Name, _ = dev.GetName()
		if mem, ret := dev.GetMemoryInfo(); ret == nvml.SUCCESS {
			g.MemoryTotal, g.MemoryUsed = mem.Total, mem.Used
		}
		gpus = append(gpus, g)
	}
	logger.Info("GPUs found", zap.Int("count", len(gpus)), zap.String("driver", driver))
	return gpus
}
