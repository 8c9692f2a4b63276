package intake

import (
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/metrics"
)

// Stats counts what ingest did, for /metrics and the periodic log line.
type Stats struct {
	Accepted   atomic.Int64
	Duplicates atomic.Int64
	Retried    atomic.Int64 // transient failures, NAKed for redelivery
	Rebinds    atomic.Int64 // times the consumer was lost and bound again

	// Drops counts requests whose handling panicked (set by New).
	Drops *bus.Drops

	mu       sync.Mutex
	rejected map[job.Code]int64
}

func (s *Stats) reject(code job.Code) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rejected == nil {
		s.rejected = map[job.Code]int64{}
	}
	s.rejected[code]++
}

// Rejected returns the rejection counts by code.
func (s *Stats) Rejected() map[job.Code]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[job.Code]int64, len(s.rejected))
	for k, v := range s.rejected {
		out[k] = v
	}
	return out
}

var (
	requestsDesc = prometheus.NewDesc(metrics.Namespace+"_ingest_requests_total",
		"Requests ingest took off the request stream, by outcome (accepted, duplicate, rejected) and, for rejections, the error code.",
		[]string{"outcome", "code"}, nil)
	retriedDesc = prometheus.NewDesc(metrics.Namespace+"_ingest_retried_total",
		"Requests whose handling failed transiently and were NAKed for redelivery.", nil, nil)
	rebindsDesc = prometheus.NewDesc(metrics.Namespace+"_ingest_consumer_rebinds_total",
		"Times ingest's consumer was lost and bound again.", nil, nil)
)

// Describe and Collect make Stats a Prometheus collector: the figures are
// read at each scrape.
func (s *Stats) Describe(ch chan<- *prometheus.Desc) {
	ch <- requestsDesc
	ch <- retriedDesc
	ch <- rebindsDesc
}

func (s *Stats) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(requestsDesc, prometheus.CounterValue, float64(s.Accepted.Load()), "accepted", "")
	ch <- prometheus.MustNewConstMetric(requestsDesc, prometheus.CounterValue, float64(s.Duplicates.Load()), "duplicate", "")
	for code, n := range s.Rejected() {
		ch <- prometheus.MustNewConstMetric(requestsDesc, prometheus.CounterValue, float64(n), "rejected", string(code))
	}
	ch <- prometheus.MustNewConstMetric(retriedDesc, prometheus.CounterValue, float64(s.Retried.Load()))
	ch <- prometheus.MustNewConstMetric(rebindsDesc, prometheus.CounterValue, float64(s.Rebinds.Load()))
}
