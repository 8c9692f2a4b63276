package api

import (
	"sort"

	"github.com/prometheus/client_golang/prometheus"

	"cyberimage/shared/metrics"
)

// maxClientSeries bounds the client label of the per-client gauge: a
// series per client would grow with every name ever seen. The clients
// with the most jobs queued get their own series (ties by name), the rest
// are summed under client="*" (the quotas' name for every other client).
const maxClientSeries = 20

var clientQueuedDesc = prometheus.NewDesc(metrics.Namespace+"_client_queued",
	"Jobs queued now by client (the identity quotas count against), for the 20 clients with the most; client=\"*\" sums the rest.",
	[]string{"client"}, nil)

// clientCollector reports the per-client queue, read from the index at
// each scrape (O(jobs in flight)).
type clientCollector struct{ s *Server }

func (c clientCollector) Describe(ch chan<- *prometheus.Desc) { ch <- clientQueuedDesc }

func (c clientCollector) Collect(ch chan<- prometheus.Metric) {
	for _, q := range topQueued(c.s.clientUses(c.s.p.Now()), maxClientSeries) {
		ch <- prometheus.MustNewConstMetric(clientQueuedDesc, prometheus.GaugeValue, float64(q.queued), q.client)
	}
}

type clientQueued struct {
	client string
	queued int
}

// topQueued keeps the n clients with the most queued and sums the rest
// as "*" (present only when there is a rest).
func topQueued(uses []clientUse, n int) []clientQueued {
	sort.SliceStable(uses, func(i, j int) bool { return uses[i].Queued > uses[j].Queued })
	out := make([]clientQueued, 0, min(len(uses), n+1))
	for i, u := range uses {
		if i < n {
			out = append(out, clientQueued{u.Client, u.Queued})
			continue
		}
		if i == n {
			out = append(out, clientQueued{client: "*"})
		}
		out[n].queued += u.Queued
	}
	return out
}
