package bus

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The acknowledgement payloads JetStream understands, as they start. The
// supervisor reads them off the ack subjects and sends NAKs and TERMs of
// its own, so both sides take them from here.
const (
	AckInProgress = "+WPI"
	AckDone       = "+ACK"
	AckNak        = "-NAK"
	AckTerm       = "+TERM"
)

// NakWithDelay is the payload of a NAK that asks for redelivery after
// delay, the form nats.go's NakWithDelay sends.
func NakWithDelay(delay time.Duration) []byte {
	return fmt.Appendf(nil, `%s {"delay": %d}`, AckNak, delay.Nanoseconds())
}

// TermWithReason is the payload of a TERM with a reason, which the server
// repeats in its MSG_TERMINATED advisory.
func TermWithReason(reason string) []byte {
	return []byte(AckTerm + " " + reason)
}

// TermReason is the reason given with +TERM for a job; it starts with the
// job id so the supervisor can find the job from the advisory alone.
func TermReason(jobID, reason string) string { return "job " + jobID + ": " + reason }

// JobIDFromTermReason reads the job id TermReason put first; empty when the
// reason was not written by TermReason. The reason comes from an advisory
// anyone allowed on its subject may publish, and the id becomes a KV key,
// so only a valid token is taken.
func JobIDFromTermReason(reason string) string {
	rest, ok := strings.CutPrefix(reason, "job ")
	if !ok {
		return ""
	}
	id, _, ok := strings.Cut(rest, ":")
	if !ok || !ValidToken(id) {
		return ""
	}
	return id
}

// AckKindOf reads which acknowledgement a payload is. An empty payload is
// an ack (the server reads it so); anything else that is not one of the
// known kinds yields "" and is ignored by every reader.
func AckKindOf(payload []byte) string {
	for _, k := range []string{AckInProgress, AckDone, AckNak, AckTerm} {
		if bytes.HasPrefix(payload, []byte(k)) {
			return k
		}
	}
	if len(payload) == 0 {
		return AckDone
	}
	return ""
}

// AckTarget is what an ack subject names: which delivery of which message.
type AckTarget struct {
	Stream, Consumer string
	Delivered        uint64 // the delivery count
	StreamSeq        uint64
}

// ParseAckSubject reads a JetStream ack (reply) subject:
// $JS.ACK.<stream>.<consumer>.<delivered>.<stream_seq>.<consumer_seq>.<ts>.<pending>,
// or the newer form with domain and account hash before the stream
// ($JS.ACK.<domain>.<account>.<stream>.<consumer>.<delivered>.<stream_seq>.<consumer_seq>.<ts>.<pending>.<token>).
func ParseAckSubject(subject string) (AckTarget, error) {
	tok := strings.Split(subject, ".")
	if len(tok) < 9 || tok[0] != "$JS" || tok[1] != "ACK" {
		return AckTarget{}, fmt.Errorf("not an ack subject: %q", subject)
	}
	at := 2 // where the stream name is
	switch {
	case len(tok) == 9:
	case len(tok) >= 11:
		at = 4
	default:
		return AckTarget{}, fmt.Errorf("not an ack subject: %q", subject)
	}
	delivered, err := strconv.ParseUint(tok[at+2], 10, 64)
	if err != nil {
		return AckTarget{}, fmt.Errorf("ack subject %q: bad delivered count", subject)
	}
	seq, err := strconv.ParseUint(tok[at+3], 10, 64)
	if err != nil {
		return AckTarget{}, fmt.Errorf("ack subject %q: bad stream sequence", subject)
	}
	if tok[at] == "" || tok[at+1] == "" {
		return AckTarget{}, fmt.Errorf("ack subject %q: empty stream or consumer", subject)
	}
	return AckTarget{Stream: tok[at], Consumer: tok[at+1], Delivered: delivered, StreamSeq: seq}, nil
}

// CheckJobDelivery says whether subject may be acted on as the ack subject
// of the job delivery (streamSeq, delivered): a delivery of the jobs stream
// by one of the runners' consumers, of that very message. A record names
// its delivery's ack subject and records are written by runners, so the
// supervisor checks before it NAKs or terminates anything there.
func CheckJobDelivery(subject string, streamSeq uint64, delivered int) error {
	at, err := ParseAckSubject(subject)
	if err != nil {
		return err
	}
	switch {
	case at.Stream != StreamJobs:
		return fmt.Errorf("ack subject %q: stream %q, not %s", subject, at.Stream, StreamJobs)
	case !strings.HasPrefix(at.Consumer, ConsumerRunners+"-"):
		return fmt.Errorf("ack subject %q: consumer %q is not a runners' consumer", subject, at.Consumer)
	case at.StreamSeq != streamSeq || delivered < 0 || at.Delivered != uint64(delivered):
		return fmt.Errorf("ack subject %q names delivery %d.%d, not the record's %d.%d", subject, at.StreamSeq, at.Delivered, streamSeq, delivered)
	}
	return nil
}
