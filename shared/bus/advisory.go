package bus

import "strings"

// Advisory holds the fields the supervisor reads from the runners'
// consumer advisories (MAX_DELIVERIES and MSG_TERMINATED).
type Advisory struct {
	Type       string `json:"type"`
	Stream     string `json:"stream"`
	Consumer   string `json:"consumer"`
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries uint64 `json:"deliveries"`
	Reason     string `json:"reason,omitempty"`
}

// Advisory types the supervisor acts on.
const (
	AdvisoryMaxDeliver = "io.nats.jetstream.advisory.v1.max_deliver"
	AdvisoryTerminated = "io.nats.jetstream.advisory.v1.terminated"
)

// EncodeAdvisory is the JSON of the fields of an advisory the supervisor
// reads (the server sends these; tests and replays send them too).
func EncodeAdvisory(a Advisory) []byte { return encode(a) }

// DecodeAdvisory reads a consumer advisory about the jobs stream.
func DecodeAdvisory(data []byte) (Advisory, error) {
	return decode(data, MaxMessageBytes, func(a *Advisory) error {
		if a.Type != AdvisoryMaxDeliver && a.Type != AdvisoryTerminated {
			return malformed("advisory type %q", a.Type)
		}
		if a.StreamSeq == 0 || a.Deliveries == 0 {
			return malformed("advisory names no message or deliveries")
		}
		if a.Stream != "" && a.Stream != StreamJobs {
			return malformed("advisory about stream %q", a.Stream)
		}
		if a.Consumer != "" && !strings.HasPrefix(a.Consumer, ConsumerRunners+"-") {
			return malformed("advisory about consumer %q", a.Consumer)
		}
		return nil
	})
}
