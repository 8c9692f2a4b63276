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
	// MaxAckPending bounds the deliveries of one runners' consumer (a
	// model's class) that runners hold at once: every slot of the fleet
	// may hold one, so it must exceed the fleet's slots.
	MaxAckPending int
	// MaxWaitingPulls bounds the pull requests one runners' consumer keeps
	// waiting: every idle slot waits on each class consumer of its model,
	// and the server refuses pulls past it (409 Exceeded MaxWaiting). Only
	// provisioning applies it; JetStream cannot change it on an existing
	// consumer, so services do not check it.
	MaxWaitingPulls int
	// Replicas of streams and buckets (1 for a single server).
	Replicas int
}

// The request stream's bounds (README, Requests).
const (
	RequestsMaxBytes   = 1 << 30 // 1 GiB: about a million typical requests waiting for ingest
	RequestsMaxMsgSize = 1 << 20 // 1 MiB, nats-server's default max_payload
)

// DefaultSettings are the documented defaults: AckWait 60 s and four
// deliveries, the original app's first try plus three retries. The
// consumers' bounds fit a fleet of 2,000 slots (1,000 runners of two GPUs,
// issue 26) twice over: all of them idle wait on every class consumer
// (4,096 pulls), and all of them busy hold one consumer's deliveries with
// room for as many again (8,192). The server's own defaults, 512 waiting
// pulls and 1,024 pending acks (the old default here), are met at about
// 250 and 500 such runners.
func DefaultSettings() Settings {
	return Settings{AckWait: 60 * time.Second, MaxDeliver: 4, MaxAckPending: 8192, MaxWaitingPulls: 4096, Replicas: 1}
}

// ProgressInterval is how often a worker sends an in-progress ack: a third
// of AckWait leaves room for two lost acks.
func (s Settings) ProgressInterval() time.Duration { return s.AckWait / 3 }
