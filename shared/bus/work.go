package bus

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"cyberimage/shared/job"
)

// Work is the message queued on the jobs stream: enough for a runner to do
// the job without reading the record first. Its spec carries the job's
// priority and deadline (absent from messages queued before they existed,
// which decode as normal jobs without a deadline).
type Work struct {
	JobID string   `json:"job_id"`
	Spec  job.Spec `json:"spec"`
	// CreatedAt and Revision describe the record as queued, so a runner can
	// claim it with one compare-and-set instead of a read and a write; if
	// the record changed since, the claim falls back to reading it.
	CreatedAt time.Time `json:"created_at,omitzero"`
	Revision  uint64    `json:"revision,omitempty"`
	// Traceparent is the record's, so QueuedRecord is the record exactly.
	Traceparent string `json:"traceparent,omitempty"`
	// Client is the record's too: a claim rebuilt from this message must
	// not drop who submitted the job (quotas, the console's client pages).
	Client string `json:"client,omitempty"`
}

// RequeueWork is the work message that queues an existing record again:
// its job, its spec and its trace (no revision: the runner reads the
// record to claim it).
func RequeueWork(r job.Record) Work {
	return Work{JobID: r.JobID, Spec: r.Spec, Traceparent: r.Traceparent, Client: r.Client}
}

// QueuedRecord is the record ingest wrote for this work, valid as long as
// the record is still at Revision.
func (w Work) QueuedRecord() job.Record {
	rec := job.NewQueued(w.JobID, w.Spec, w.CreatedAt, w.Traceparent)
	rec.Client = w.Client
	return rec
}

// EncodeWork is the JSON of a work message.
func EncodeWork(w Work) []byte { return encode(w) }

// DecodeWork reads a job's work message.
func DecodeWork(data []byte) (Work, error) {
	return decode(data, 2*job.MaxRequestBytes, func(w *Work) error {
		if !ValidToken(w.JobID) {
			return malformed("work names no valid job")
		}
		return nil
	})
}

// WorkMsg is the message that queues w on its job's subject (its model's
// and priority class's), under the message id msgID (one of msgid.go's),
// which JetStream deduplicates on.
func WorkMsg(w Work, msgID string) *nats.Msg {
	msg := &nats.Msg{Subject: WorkSubject(w.Spec.Model, w.Spec.Priority, w.JobID), Data: EncodeWork(w), Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, msgID)
	return msg
}

// RemoveWork deletes a job's work message from the queue, if it is there,
// once its record ended before it started (cancelled, or not started by
// its deadline): no runner takes it after that. A runner that holds it
// already finds the record ended at claim, and acks it.
func RemoveWork(ctx context.Context, js jetstream.JetStream, spec job.Spec, jobID string) error {
	stream, err := js.Stream(ctx, StreamJobs)
	if err != nil {
		return err
	}
	msg, err := stream.GetLastMsgForSubject(ctx, WorkSubject(spec.Model, spec.Priority, jobID))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := stream.DeleteMsg(ctx, msg.Sequence); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		return err
	}
	return nil
}
