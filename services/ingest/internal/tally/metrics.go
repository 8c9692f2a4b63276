package tally

import (
	"github.com/prometheus/client_golang/prometheus"

	"cyberimage/shared/metrics"
)

var (
	clientsDesc = prometheus.NewDesc(metrics.Namespace+"_ingest_quota_clients",
		"Clients with a limit that have jobs queued or accepted in the last minute (the quota tally's size).", nil, nil)
	countedDesc = prometheus.NewDesc(metrics.Namespace+"_ingest_quota_jobs_counted",
		"Jobs the quota tally counts: queued, or accepted in the last minute, of clients with a limit.", nil, nil)
	rewatchesDesc = prometheus.NewDesc(metrics.Namespace+"_ingest_quota_rewatches_total",
		"Times the quota tally watched the job records again after a watch ended or went stale.", nil, nil)
)

// Describe and Collect make the Tally a Prometheus collector. Per-client
// figures are left out on purpose: client names are unbounded labels.
func (t *Tally) Describe(ch chan<- *prometheus.Desc) {
	ch <- clientsDesc
	ch <- countedDesc
	ch <- rewatchesDesc
}

// Collect reads the figures at each scrape.
func (t *Tally) Collect(ch chan<- prometheus.Metric) {
	t.mu.Lock()
	clients, jobs := len(t.st.clients), len(t.st.jobs)
	t.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(clientsDesc, prometheus.GaugeValue, float64(clients))
	ch <- prometheus.MustNewConstMetric(countedDesc, prometheus.GaugeValue, float64(jobs))
	ch <- prometheus.MustNewConstMetric(rewatchesDesc, prometheus.CounterValue, float64(t.follower.Rewatches()))
}
