package runner

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/metrics"
)

// jobMetrics are the runner's job figures: the histograms of each stage
// and of request-to-completion per model (observed where the timings are
// measured), and the jobs that failed or came again.
type jobMetrics struct {
	stages      *prometheus.HistogramVec
	endToEnd    *prometheus.HistogramVec
	failed      *prometheus.CounterVec
	redelivered *prometheus.CounterVec
}

// Stage durations run from milliseconds (a small image on a GPU) to
// minutes (a large batch on a CPU).
var secondsBuckets = prometheus.ExponentialBucketsRange(0.002, 300, 18)

// newJobMetrics registers the job figures, each series of every served
// model present from the start (at zero), so rates and alerts see them
// before the first job rather than an absent series.
func newJobMetrics(reg prometheus.Registerer, models []string) *jobMetrics {
	m := &jobMetrics{
		stages: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: metrics.Namespace, Name: "job_stage_seconds",
			Help:    "Time each completed job spent in each stage: queue_wait (queued to its model run), inference, encode (PNG), upload (S3).",
			Buckets: secondsBuckets}, []string{"model", "stage"}),
		endToEnd: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: metrics.Namespace, Name: "job_duration_seconds",
			Help:    "Time from a job's request to its completion, per model (completed jobs).",
			Buckets: secondsBuckets}, []string{"model"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metrics.Namespace, Name: "runner_jobs_failed_total",
			Help: "Jobs that failed for good on this runner."}, []string{"model"}),
		redelivered: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metrics.Namespace, Name: "runner_redeliveries_total",
			Help: "Deliveries this runner received that JetStream had delivered before (a recovery, a crash, a NAK)."}, []string{"model"}),
	}
	reg.MustRegister(m.stages, m.endToEnd, m.failed, m.redelivered)
	for _, model := range models {
		for _, stage := range stageNames {
			m.stages.WithLabelValues(model, stage)
		}
		m.endToEnd.WithLabelValues(model)
		m.failed.WithLabelValues(model)
		m.redelivered.WithLabelValues(model)
	}
	return m
}

// stageNames label the stage histogram, in the order stageMillis gives
// the stages' times.
var stageNames = [...]string{"queue_wait", "inference", "encode", "upload"}

func stageMillis(s job.Stages) [len(stageNames)]float64 {
	return [...]float64{s.QueueWaitMS, s.InferenceMS, s.EncodeMS, s.UploadMS}
}

func (m *jobMetrics) Completed(model string, s job.Stages, endToEnd time.Duration) {
	for i, ms := range stageMillis(s) {
		m.stages.WithLabelValues(model, stageNames[i]).Observe(ms / 1000)
	}
	m.endToEnd.WithLabelValues(model).Observe(endToEnd.Seconds())
}

func (m *jobMetrics) Failed(model string)      { m.failed.WithLabelValues(model).Inc() }
func (m *jobMetrics) Redelivered(model string) { m.redelivered.WithLabelValues(model).Inc() }

// stateCollector reads the runner's state at each scrape: its slots, and
// every GPU NVML reports (the same figures its heartbeats carry).
type stateCollector struct {
	runner string
	state  func() bus.Heartbeat
}

var (
	slotsDesc = prometheus.NewDesc(metrics.Namespace+"_runner_slots", "The runner's job slots, by state: busy or total.",
		[]string{"runner", "state"}, nil)
	quarantinedDesc = prometheus.NewDesc(metrics.Namespace+"_runner_quarantined",
		"1 while the runner pulls no work because it is reloading its models after repeated stalls.", []string{"runner"}, nil)
	gpuLabels   = []string{"runner", "gpu", "uuid"}
	gpuUtilDesc = prometheus.NewDesc(metrics.Namespace+"_gpu_utilization_ratio", "GPU busy fraction over NVML's last sample period (0–1).", gpuLabels, nil)
	gpuUsedDesc = prometheus.NewDesc(metrics.Namespace+"_gpu_memory_used_bytes", "GPU memory in use.", gpuLabels, nil)
	gpuMemDesc  = prometheus.NewDesc(metrics.Namespace+"_gpu_memory_total_bytes", "GPU memory in all.", gpuLabels, nil)
	gpuTempDesc = prometheus.NewDesc(metrics.Namespace+"_gpu_temperature_celsius", "GPU core temperature.", gpuLabels, nil)
	gpuPowDesc  = prometheus.NewDesc(metrics.Namespace+"_gpu_power_watts", "GPU power draw.", gpuLabels, nil)
	gpuUseDesc  = prometheus.NewDesc(metrics.Namespace+"_gpu_in_use", "1 when the runner runs slots on this GPU (CUDA), 0 when it only sees it.", gpuLabels, nil)
)

func (c stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{slotsDesc, quarantinedDesc, gpuUtilDesc, gpuUsedDesc, gpuMemDesc, gpuTempDesc, gpuPowDesc, gpuUseDesc} {
		ch <- d
	}
}

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	hb := c.state()
	ch <- prometheus.MustNewConstMetric(slotsDesc, prometheus.GaugeValue, float64(hb.Busy), c.runner, "busy")
	ch <- prometheus.MustNewConstMetric(slotsDesc, prometheus.GaugeValue, float64(hb.Slots), c.runner, "total")
	ch <- prometheus.MustNewConstMetric(quarantinedDesc, prometheus.GaugeValue, metrics.Bool(hb.Quarantined), c.runner)
	for _, g := range hb.GPUs {
		labels := []string{c.runner, strconv.Itoa(g.Index), g.UUID}
		ch <- prometheus.MustNewConstMetric(gpuUtilDesc, prometheus.GaugeValue, float64(g.UtilizationPercent)/100, labels...)
		ch <- prometheus.MustNewConstMetric(gpuUsedDesc, prometheus.GaugeValue, float64(g.MemoryUsed), labels...)
		ch <- prometheus.MustNewConstMetric(gpuMemDesc, prometheus.GaugeValue, float64(g.MemoryTotal), labels...)
		ch <- prometheus.MustNewConstMetric(gpuTempDesc, prometheus.GaugeValue, float64(g.TemperatureC), labels...)
		ch <- prometheus.MustNewConstMetric(gpuPowDesc, prometheus.GaugeValue, g.PowerWatts, labels...)
		ch <- prometheus.MustNewConstMetric(gpuUseDesc, prometheus.GaugeValue, metrics.Bool(g.InUse), labels...)
	}
}
