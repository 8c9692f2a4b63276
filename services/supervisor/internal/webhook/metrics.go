package webhook

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"cyberimage/shared/metrics"
)

var (
	attemptsDesc = prometheus.NewDesc(metrics.Namespace+"_webhook_attempts_total",
		"Webhook calls by outcome: delivered (2xx), gone (410), http_error (another answer), network_error (no answer), refused (allow list or address check).",
		[]string{"outcome"}, nil)
	settledDesc = prometheus.NewDesc(metrics.Namespace+"_webhook_deliveries_total",
		"Webhook deliveries that ended, by state: delivered, failed or gave_up.", []string{"state"}, nil)
	droppedDesc = prometheus.NewDesc(metrics.Namespace+"_webhook_dropped_total",
		"Webhook deliveries dropped because more than CYBERIMAGE_WEBHOOK_MAX_PENDING were held (recorded as failed).", nil, nil)
	pendingDesc = prometheus.NewDesc(metrics.Namespace+"_webhook_pending",
		"Webhook deliveries this supervisor holds now (waiting, calling or between retries).", nil, nil)
)

// Metrics counts what the webhooks did in this process: a Prometheus
// collector.
type Metrics struct {
	attempts map[string]*atomic.Int64
	settled  map[State]*atomic.Int64
	dropped  atomic.Int64
	pending  atomic.Int64
}

// NewMetrics makes the counters, every outcome and state at zero.
func NewMetrics() *Metrics {
	m := &Metrics{attempts: map[string]*atomic.Int64{}, settled: map[State]*atomic.Int64{}}
	for _, o := range Outcomes() {
		m.attempts[o] = new(atomic.Int64)
	}
	for _, s := range []State{StateDelivered, StateFailed, StateGaveUp} {
		m.settled[s] = new(atomic.Int64)
	}
	return m
}

// Attempts counts the attempts of an outcome.
func (m *Metrics) Attempts(outcome string) int64 { return m.attempts[outcome].Load() }

// Settled counts the deliveries that ended in state s.
func (m *Metrics) Settled(s State) int64 { return m.settled[s].Load() }

// Dropped counts the deliveries dropped from a full queue.
func (m *Metrics) Dropped() int64 { return m.dropped.Load() }

// Pending is the deliveries held now.
func (m *Metrics) Pending() int64 { return m.pending.Load() }

// Describe and Collect make Metrics a prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{attemptsDesc, settledDesc, droppedDesc, pendingDesc} {
		ch <- d
	}
}

func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for o, n := range m.attempts {
		ch <- prometheus.MustNewConstMetric(attemptsDesc, prometheus.CounterValue, float64(n.Load()), o)
	}
	for s, n := range m.settled {
		ch <- prometheus.MustNewConstMetric(settledDesc, prometheus.CounterValue, float64(n.Load()), string(s))
	}
	ch <- prometheus.MustNewConstMetric(droppedDesc, prometheus.CounterValue, float64(m.dropped.Load()))
	ch <- prometheus.MustNewConstMetric(pendingDesc, prometheus.GaugeValue, float64(m.pending.Load()))
}
