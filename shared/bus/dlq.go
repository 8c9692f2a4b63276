package bus

import (
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Header names on dead-lettered messages (stream CYBERIMAGE_DLQ): the job,
// why it failed for good, how many deliveries it had, and the stream
// sequence of its work message.
const (
	HeaderJobID      = "Cyberimage-Job-Id"
	HeaderReason     = "Cyberimage-Reason"
	HeaderDeliveries = "Cyberimage-Deliveries"
	HeaderStreamSeq  = "Cyberimage-Stream-Seq"
)

// DeadLetter is a job that failed for good, as copied to the dead-letter
// stream: its work message (as it was in the jobs stream) and headers
// saying why.
type DeadLetter struct {
	Model      string
	JobID      string
	Reason     string
	Deliveries uint64
	// StreamSeq is the sequence of the work message in the jobs stream.
	StreamSeq uint64
	Work      []byte
}

// EncodeDeadLetter is the message that copies a dead letter to its
// subject, with one message id per work message (DeadLetterMsgID).
func EncodeDeadLetter(d DeadLetter) *nats.Msg {
	msg := nats.NewMsg(DLQSubject(d.Model, d.JobID))
	msg.Data = d.Work
	msg.Header.Set(HeaderJobID, d.JobID)
	msg.Header.Set(HeaderReason, d.Reason)
	msg.Header.Set(HeaderDeliveries, strconv.FormatUint(d.Deliveries, 10))
	msg.Header.Set(HeaderStreamSeq, strconv.FormatUint(d.StreamSeq, 10))
	msg.Header.Set(jetstream.MsgIDHeader, DeadLetterMsgID(d.StreamSeq))
	return msg
}

// DecodeDeadLetter reads a message of the dead-letter stream.
func DecodeDeadLetter(subject string, header nats.Header, data []byte) (DeadLetter, error) {
	d := DeadLetter{JobID: header.Get(HeaderJobID), Reason: header.Get(HeaderReason), Work: data}
	if !ValidToken(d.JobID) {
		return d, malformed("dead letter names no valid job")
	}
	// <prefix><model>.<job_id>: the job id is a token, the model what
	// comes before it.
	rest, ok := strings.CutPrefix(subject, subjectDLQPrefix)
	if !ok || !strings.HasSuffix(rest, "."+d.JobID) {
		return d, malformed("dead letter of %q on subject %q", d.JobID, subject)
	}
	d.Model = strings.TrimSuffix(rest, "."+d.JobID)
	var err error
	if d.Deliveries, err = strconv.ParseUint(header.Get(HeaderDeliveries), 10, 64); err != nil {
		return d, malformed("dead letter deliveries: %v", err)
	}
	if d.StreamSeq, err = strconv.ParseUint(header.Get(HeaderStreamSeq), 10, 64); err != nil {
		return d, malformed("dead letter stream sequence: %v", err)
	}
	return d, nil
}
