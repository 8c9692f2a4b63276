package bus

import (
	"fmt"
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
// reason was not written by TermReason.
func JobIDFromTermReason(reason string) string {
	rest, ok := strings.CutPrefix(reason, "job ")
	if !ok {
		return ""
	}
	id, _, ok := strings.Cut(rest, ":")
	if !ok || id == "" || strings.ContainsAny(id, " \t") {
		return ""
	}
	return id
}
