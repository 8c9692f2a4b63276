package bus

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"cyberimage/shared/job"
)

// Every message a service takes off the bus goes through one of the
// decoders below before any handler sees it. Anyone who can publish on a
// subject can send anything, so each decoder bounds the size, wants one
// JSON object of the right shape and no trailing data, and checks the
// fields a handler relies on; whatever fails is dropped and counted
// (Drops), never acted on. Each has a fuzz target in decode_test.go.

// MaxMessageBytes bounds every bus message but requests (job.MaxRequestBytes)
// and work (which carries a request): heartbeats, events, orders and
// advisories are far smaller.
const MaxMessageBytes = 64 << 10

// ErrMalformed marks a message that failed decoding.
var ErrMalformed = errors.New("malformed message")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// decodeObject decodes one JSON object of at most limit bytes into v.
func decodeObject(data []byte, limit int, v any) error {
	if len(data) > limit {
		return malformed("%d bytes, over the limit of %d", len(data), limit)
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return malformed("not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if err := dec.Decode(v); err != nil {
		return malformed("%v", err)
	}
	if dec.More() {
		return malformed("trailing data after the object")
	}
	return nil
}

// ValidToken reports whether s can stand as one NATS subject token (runner
// ids and job ids are subject tokens): non-empty, printable, no spaces,
// dots or wildcards, at most 128 bytes.
func ValidToken(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || r == '.' || r == '*' || r == '>' {
			return false
		}
	}
	return true
}

// DecodeHeartbeat reads a runner's heartbeat.
func DecodeHeartbeat(data []byte) (Heartbeat, error) {
	var h Heartbeat
	if err := decodeObject(data, MaxMessageBytes, &h); err != nil {
		return h, err
	}
	if !ValidToken(h.Runner) {
		return h, malformed("heartbeat names no valid runner")
	}
	if h.Slots < 0 || h.Busy < 0 || len(h.Models) > 1024 || len(h.GPUs) > 256 || len(h.Jobs) > 1024 {
		return h, malformed("heartbeat figures out of range")
	}
	for _, j := range h.Jobs {
		if !ValidToken(j.JobID) || j.Step < 0 || j.TotalSteps < 0 {
			return h, malformed("heartbeat names a job badly")
		}
	}
	return h, nil
}

// DecodeProgressEvent reads a job's progress event.
func DecodeProgressEvent(data []byte) (ProgressEvent, error) {
	var e ProgressEvent
	if err := decodeObject(data, MaxMessageBytes, &e); err != nil {
		return e, err
	}
	if !ValidToken(e.JobID) {
		return e, malformed("event names no valid job")
	}
	if e.Step < 0 || e.TotalSteps < 0 || e.Step > e.TotalSteps+1 {
		return e, malformed("event step %d of %d", e.Step, e.TotalSteps)
	}
	return e, nil
}

// DecodeControl reads an order to a runner. Orders about a job must name
// the job and the delivery they concern.
func DecodeControl(data []byte) (Control, error) {
	var c Control
	if err := decodeObject(data, MaxMessageBytes, &c); err != nil {
		return c, err
	}
	switch c.Action {
	case ControlAbandon, ControlCancel:
		if !ValidToken(c.JobID) || c.Delivery == "" {
			return c, malformed("%s order names no job and delivery", c.Action)
		}
	case ControlReload:
		if c.ID == "" {
			return c, malformed("reload order has no id")
		}
	default:
		return c, malformed("unknown order %q", c.Action)
	}
	return c, nil
}

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

// DecodeAdvisory reads a consumer advisory about the jobs stream.
func DecodeAdvisory(data []byte) (Advisory, error) {
	var a Advisory
	if err := decodeObject(data, MaxMessageBytes, &a); err != nil {
		return a, err
	}
	if a.Type != AdvisoryMaxDeliver && a.Type != AdvisoryTerminated {
		return a, malformed("advisory type %q", a.Type)
	}
	if a.StreamSeq == 0 || a.Deliveries == 0 {
		return a, malformed("advisory names no message or deliveries")
	}
	if a.Stream != "" && a.Stream != StreamJobs {
		return a, malformed("advisory about stream %q", a.Stream)
	}
	if a.Consumer != "" && !strings.HasPrefix(a.Consumer, ConsumerRunners+"-") {
		return a, malformed("advisory about consumer %q", a.Consumer)
	}
	return a, nil
}

// DecodeWork reads a job's work message.
func DecodeWork(data []byte) (job.Work, error) {
	var w job.Work
	if err := decodeObject(data, 2*job.MaxRequestBytes, &w); err != nil {
		return w, err
	}
	if !ValidToken(w.JobID) {
		return w, malformed("work names no valid job")
	}
	return w, nil
}
