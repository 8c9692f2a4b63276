package runner

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
)

// Each GPU a runner reports becomes a set of gauges labelled by runner,
// index and UUID, in base units (ratio, bytes, celsius, watts).
func TestStateCollectorExposesEveryGPU(t *testing.T) {
	t.Parallel()
	c := stateCollector{runner: "r1", state: func() bus.Heartbeat {
		return bus.Heartbeat{Slots: 2, Busy: 1, GPUs: []bus.GPU{
			{Index: 0, UUID: "GPU-a", MemoryTotal: 80 << 30, MemoryUsed: 20 << 30, UtilizationPercent: 75, TemperatureC: 61, PowerWatts: 310.5, InUse: true},
			{Index: 1, UUID: "GPU-b", MemoryTotal: 80 << 30},
		}}
	}}
	want := `
# HELP cyberimage_gpu_utilization_ratio GPU busy fraction over NVML's last sample period (0–1).
# TYPE cyberimage_gpu_utilization_ratio gauge
cyberimage_gpu_utilization_ratio{gpu="0",runner="r1",uuid="GPU-a"} 0.75
cyberimage_gpu_utilization_ratio{gpu="1",runner="r1",uuid="GPU-b"} 0
# HELP cyberimage_gpu_memory_used_bytes GPU memory in use.
# TYPE cyberimage_gpu_memory_used_bytes gauge
cyberimage_gpu_memory_used_bytes{gpu="0",runner="r1",uuid="GPU-a"} 2.147483648e+10
cyberimage_gpu_memory_used_bytes{gpu="1",runner="r1",uuid="GPU-b"} 0
# HELP cyberimage_gpu_power_watts GPU power draw.
# TYPE cyberimage_gpu_power_watts gauge
cyberimage_gpu_power_watts{gpu="0",runner="r1",uuid="GPU-a"} 310.5
cyberimage_gpu_power_watts{gpu="1",runner="r1",uuid="GPU-b"} 0
# HELP cyberimage_runner_slots The runner's job slots, by state: busy or total.
# TYPE cyberimage_runner_slots gauge
cyberimage_runner_slots{runner="r1",state="busy"} 1
cyberimage_runner_slots{runner="r1",state="total"} 2
`
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want),
		"cyberimage_gpu_utilization_ratio", "cyberimage_gpu_memory_used_bytes", "cyberimage_gpu_power_watts", "cyberimage_runner_slots"))
	names, err := testutil.CollectAndLint(c)
	require.NoError(t, err)
	require.Empty(t, names, "metric names follow Prometheus conventions")
	require.Equal(t, 3+2*6, testutil.CollectAndCount(c), "3 slot and quarantine series, 6 per GPU")
	for _, name := range []string{"cyberimage_gpu_memory_total_bytes", "cyberimage_gpu_temperature_celsius", "cyberimage_gpu_in_use"} {
		require.Equal(t, 2, testutil.CollectAndCount(c, name), name)
	}
}

// Completed jobs land in the stage and end-to-end histograms of their
// model, in seconds.
func TestJobMetricsObserveStagesInSeconds(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m := newJobMetrics(reg, []string{"demo", "tiny-sd"})
	m.Completed("demo", job.Stages{QueueWaitMS: 40, InferenceMS: 2100, EncodeMS: 120, UploadMS: 80}, 2500*time.Millisecond)
	m.Completed("demo", job.Stages{InferenceMS: 900}, time.Second)
	m.Failed("demo")
	families, err := reg.Gather()
	require.NoError(t, err)
	sums := map[string]float64{}
	for _, f := range families {
		for _, metric := range f.GetMetric() {
			if h := metric.GetHistogram(); h != nil {
				key := f.GetName()
				for _, l := range metric.GetLabel() {
					key += "/" + l.GetValue()
				}
				sums[key] = h.GetSampleSum()
				if strings.Contains(key, "tiny-sd") {
					require.Zero(t, h.GetSampleCount(), "a served model's series exist before its first job")
					continue
				}
				require.Equal(t, uint64(2), h.GetSampleCount(), key)
			}
		}
	}
	require.InDelta(t, 3.0, sums["cyberimage_job_stage_seconds/demo/inference"], 1e-9)
	require.InDelta(t, 3.5, sums["cyberimage_job_duration_seconds/demo"], 1e-9)
	require.Equal(t, 1.0, testutil.ToFloat64(m.failed.WithLabelValues("demo")))
	lint, err := testutil.GatherAndLint(reg)
	require.NoError(t, err)
	require.Empty(t, lint)
}
