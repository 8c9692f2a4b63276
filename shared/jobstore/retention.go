package jobstore

import (
	"time"

	"cyberimage/shared/config"
	"cyberimage/shared/job"
)

// Retention is how long ended records stay in the bucket. The write that
// ends a job carries the time as a per-message TTL, so the NATS server
// removes the record when it runs out: no janitor scans the bucket, and a
// record that is written again (a retry) loses its TTL with that write.
// Records of jobs not ended carry none and never expire. After a record
// leaves, the supervisor still serves it from its archive in S3.
type Retention struct {
	// Record applies to completed, rejected and cancelled jobs.
	Record time.Duration
	// Failed applies to failed jobs, kept longer by default: they are what
	// operators look into.
	Failed time.Duration
}

// DefaultRetention keeps ended records 7 days, failed ones 30.
func DefaultRetention() Retention {
	return Retention{Record: 7 * 24 * time.Hour, Failed: 30 * 24 * time.Hour}
}

// Bind registers the retention settings; every service that ends jobs
// binds them.
func (r *Retention) Bind(l *config.Loader) {
	def := DefaultRetention()
	l.Duration(&r.Record, "record-ttl", def.Record, "how long completed, rejected and cancelled job records stay in KV (0: forever); S3 keeps each ended job's record as job.json")
	l.Duration(&r.Failed, "failed-ttl", def.Failed, "how long failed job records stay in KV (0: forever)")
}

// Check rejects negative durations.
func (r Retention) Check(l *config.Loader) {
	l.Check(r.Record >= 0, "%s must not be negative", l.Name("record-ttl"))
	l.Check(r.Failed >= 0, "%s must not be negative", l.Name("failed-ttl"))
}

// TTL is the time a record in status s keeps (0: no expiry); what is kept
// of an ended job beside its record (its webhook's entry) keeps the same.
func (r Retention) TTL(s job.Status) time.Duration {
	switch {
	case !s.Terminal():
		return 0
	case s == job.StatusFailed:
		return r.Failed
	default:
		return r.Record
	}
}
