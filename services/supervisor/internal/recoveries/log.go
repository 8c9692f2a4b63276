// Package recoveries keeps the supervisor's recent interventions for the
// status endpoint and counts them for metrics.
package recoveries

import (
	"sync"

	"cyberimage/shared/statusapi"
)

// Kinds of recovery.
const (
	KindStalled    = "stalled"     // ran past max_stalled_time
	KindSilent     = "silent"      // acks kept coming, progress did not
	KindEmergency  = "emergency"   // a runner stalled repeatedly: model reload ordered
	KindLost       = "lost"        // the work message vanished: job re-queued
	KindDeadLetter = "dead_letter" // out of deliveries or terminated: failed, copied to the DLQ
	KindRequeue    = "requeue"     // an operator re-queued a failed job
	KindReload     = "reload"      // an operator ordered a runner to reload its models
	KindRunnerLost = "runner_lost" // the runner holding it died or restarted: taken away at once
)

// Kinds lists every kind of recovery.
func Kinds() []string {
	return []string{KindStalled, KindSilent, KindEmergency, KindLost, KindDeadLetter, KindRequeue, KindReload, KindRunnerLost}
}

// Recovery is one intervention, as GET /status shows it (laid out in
// statusapi, which the status's readers decode).
type Recovery = statusapi.Recovery

// Log is a bounded list of recent recoveries plus counts of all of them.
type Log struct {
	mu     sync.Mutex
	size   int
	recent []Recovery
	counts map[string]int64
}

// NewLog keeps the last size recoveries.
func NewLog(size int) *Log { return &Log{size: size, counts: map[string]int64{}} }

// Add records a recovery.
func (l *Log) Add(r Recovery) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recent = append(l.recent, r)
	if len(l.recent) > l.size {
		l.recent = l.recent[len(l.recent)-l.size:]
	}
	l.counts[r.Kind]++
}

// Recent returns the kept recoveries, newest first.
func (l *Log) Recent() []Recovery {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Recovery, len(l.recent))
	for i, r := range l.recent {
		out[len(out)-1-i] = r
	}
	return out
}

// Counts returns the number of recoveries of each kind since start.
func (l *Log) Counts() map[string]int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]int64, len(l.counts))
	for k, v := range l.counts {
		out[k] = v
	}
	return out
}
