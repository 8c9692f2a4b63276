package bus

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Every message a service takes off the bus goes through one of the
// decoders in this package before any handler sees it. Anyone who can
// publish on a subject can send anything, so each decoder bounds the size,
// wants one JSON object of the right shape and no trailing data, and checks
// the fields a handler relies on; whatever fails is dropped and counted
// (Drops), never acted on. Each message's encoder sits beside its decoder,
// in the file of the message (heartbeat.go, event.go, control.go,
// advisory.go, work.go, reply.go, dlq.go), with a round-trip test and a
// fuzz target in decode_test.go.

// MaxMessageBytes bounds every bus message but requests (job.MaxRequestBytes)
// and work (which carries a request): heartbeats, events, orders and
// advisories are far smaller.
const MaxMessageBytes = 64 << 10

// ErrMalformed marks a message that failed decoding.
var ErrMalformed = errors.New("malformed message")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// decode reads one JSON object of at most limit bytes into a T, then
// checks what its handlers rely on. The value is returned even when it
// fails, for logging.
func decode[T any](data []byte, limit int, check func(*T) error) (T, error) {
	var v T
	if len(data) > limit {
		return v, malformed("%d bytes, over the limit of %d", len(data), limit)
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return v, malformed("not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if err := dec.Decode(&v); err != nil {
		return v, malformed("%v", err)
	}
	if dec.More() {
		return v, malformed("trailing data after the object")
	}
	return v, check(&v)
}

// encode is the JSON of a message. The messages hold only strings,
// integers, booleans, times from clocks or from JSON, and numbers that are
// finite (from integers, or from JSON), for which json.Marshal cannot fail.
func encode(v any) []byte {
	data, _ := json.Marshal(v)
	return data
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
