package intake

import (
	"fmt"
	"io"
	"sort"
	"sync"
	"sync/atomic"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
)

// Stats counts what ingest did, for /metrics and the periodic log line.
type Stats struct {
	Accepted   atomic.Int64
	Duplicates atomic.Int64
	Retried    atomic.Int64 // transient failures, NAKed for redelivery
	Rebinds    atomic.Int64 // times the consumer was lost and bound again

	// Drops counts requests whose handling panicked (set by New).
	Drops *bus.Drops
	// Reconnects counts the NATS connection's reconnects (nil: none kept).
	Reconnects func() uint64

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

// WritePrometheus writes the counters in Prometheus text format.
func (s *Stats) WritePrometheus(w io.Writer) {
	fmt.Fprintf(w, "# TYPE cyberimage_ingest_accepted_total counter\ncyberimage_ingest_accepted_total %d\n", s.Accepted.Load())
	fmt.Fprintf(w, "# TYPE cyberimage_ingest_duplicates_total counter\ncyberimage_ingest_duplicates_total %d\n", s.Duplicates.Load())
	fmt.Fprintf(w, "# TYPE cyberimage_ingest_retried_total counter\ncyberimage_ingest_retried_total %d\n", s.Retried.Load())
	fmt.Fprintf(w, "# TYPE cyberimage_ingest_consumer_rebinds_total counter\ncyberimage_ingest_consumer_rebinds_total %d\n", s.Rebinds.Load())
	if s.Reconnects != nil {
		fmt.Fprintf(w, "# TYPE cyberimage_nats_reconnects_total counter\ncyberimage_nats_reconnects_total %d\n", s.Reconnects())
	}
	fmt.Fprintf(w, "# TYPE cyberimage_ingest_rejected_total counter\n")
	rejected := s.Rejected()
	codes := make([]string, 0, len(rejected))
	for c := range rejected {
		codes = append(codes, string(c))
	}
	sort.Strings(codes)
	for _, c := range codes {
		fmt.Fprintf(w, "cyberimage_ingest_rejected_total{code=%q} %d\n", c, rejected[job.Code(c)])
	}
	if s.Drops != nil {
		fmt.Fprintf(w, "# HELP cyberimage_bus_dropped_total Messages taken off the bus and dropped: malformed, or whose handler panicked.\n")
		fmt.Fprintf(w, "# TYPE cyberimage_bus_dropped_total counter\n")
		for _, d := range s.Drops.Counts() {
			fmt.Fprintf(w, "cyberimage_bus_dropped_total{kind=%q} %d\n", d.Kind, d.Count)
		}
	}
}
