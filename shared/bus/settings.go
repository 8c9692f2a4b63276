package bus

import "time"

// Settings are the server-side settings of the pipeline. Every service reads
// the same values so that, for example, runners heartbeat well inside the
// AckWait the consumer was created with.
type Settings struct {
	// AckWait is how long a delivery may go without an ack or in-progress
	// ack before JetStream redelivers it.
	AckWait time.Duration
	// MaxDeliver bounds deliveries per job: the first try plus retries.
	MaxDeliver int
	// MaxAckPending bounds jobs in flight across all runners.
	MaxAckPending int
	// Replicas of streams and buckets (1 for a single server).
	Replicas int
}

// The request stream's bounds (README, Requests).
const (
	RequestsMaxBytes   = 1 << 30 // 1 GiB: about a million typical requests waiting for ingest
	RequestsMaxMsgSize = 1 << 20 // 1 MiB, nats-server's default max_payload
)

// DefaultSettings are the documented defaults: AckWait 60 s and four
// deliveries, the original app's first try plus three retries.
func DefaultSettings() Settings {
	return Settings{AckWait: 60 * time.Second, MaxDeliver: 4, MaxAckPending: 1024, Replicas: 1}
}

// ProgressInterval is how often a worker sends an in-progress ack: a third
// of AckWait leaves room for two lost acks.
func (s Settings) ProgressInterval() time.Duration { return s.AckWait / 3 }
