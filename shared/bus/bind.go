package bus

import (
	"time"

	"cyberimage/shared/config"
)

// Conn locates the NATS server.
type Conn struct {
	URL string
}

// DefaultURL is where `make run` starts NATS.
const DefaultURL = "nats://127.0.0.1:4222"

// Bind registers the connection settings with a config loader.
func (c *Conn) Bind(l *config.Loader) {
	l.String(&c.URL, "nats-url", DefaultURL, "NATS server URL")
}

// Bind registers the pipeline settings with a config loader.
func (s *Settings) Bind(l *config.Loader) {
	d := DefaultSettings()
	l.Duration(&s.AckWait, "ack-wait", d.AckWait, "redeliver a job after this long without an ack or in-progress ack")
	l.Int(&s.MaxDeliver, "max-deliver", d.MaxDeliver, "deliveries per job before it fails (first try plus retries)")
	l.Int(&s.MaxAckPending, "max-ack-pending", d.MaxAckPending, "jobs in flight across all runners")
	l.Int(&s.Replicas, "replicas", d.Replicas, "replicas of streams and buckets")
}

// Check validates the settings after parsing.
func (s *Settings) Check(l *config.Loader) {
	l.Check(s.AckWait >= time.Second, "CYBERIMAGE_ACK_WAIT must be at least 1s")
	l.Check(s.MaxDeliver >= 1, "CYBERIMAGE_MAX_DELIVER must be at least 1")
	l.Check(s.MaxAckPending >= 1, "CYBERIMAGE_MAX_ACK_PENDING must be at least 1")
	l.Check(s.Replicas >= 1 && s.Replicas <= 5, "CYBERIMAGE_REPLICAS must be 1 to 5")
}
