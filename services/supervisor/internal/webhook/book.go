package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
)

// State is where a job's webhook delivery stands.
type State string

// Delivery states: pending until it ends delivered (a 2xx answer), failed
// (410 Gone, refused by the allow list or the address check, or dropped
// from a full queue) or gave_up (no 2xx within the retry window).
const (
	StatePending   State = "pending"
	StateDelivered State = "delivered"
	StateFailed    State = "failed"
	StateGaveUp    State = "gave_up"
)

// Settled reports whether the delivery is over.
func (s State) Settled() bool { return s == StateDelivered || s == StateFailed || s == StateGaveUp }

// keptAttempts bounds the attempts an entry lists (the newest); Count
// still counts them all.
const keptAttempts = 20

// Status is a job's webhook delivery as the bucket keeps it and GET
// /v1/jobs/{id} shows it ("callback").
type Status struct {
	URL   string `json:"url"`
	State State  `json:"state,omitempty"`
	// Delivery is the Cyberimage-Delivery header: "<job_id>.<n>", n the
	// job's operator re-queues, so each end of a job is one delivery.
	Delivery string `json:"delivery,omitempty"`
	// Revision is the record's revision that ended the job.
	Revision uint64 `json:"revision,omitempty"`
	// EndedAs is the job's status; the entry keeps that status's
	// retention, as its record does.
	EndedAs job.Status `json:"ended_as,omitempty"`
	// Since is the first attempt: the retry window counts from it.
	Since time.Time `json:"since,omitzero"`
	// Reason says why a delivery failed or was given up.
	Reason   string    `json:"reason,omitempty"`
	Attempts []Attempt `json:"attempts,omitempty"`
	// Count is every attempt made, Attempts the newest of them.
	Count int `json:"attempt_count,omitempty"`
}

// Attempt is one call.
type Attempt struct {
	At time.Time `json:"at"`
	// Outcome: delivered, gone, http_error, network_error or refused.
	Outcome    string  `json:"outcome"`
	HTTPStatus int     `json:"http_status,omitempty"`
	Error      string  `json:"error,omitempty"`
	DurationMS float64 `json:"duration_ms"`
}

// add records an attempt, keeping the newest keptAttempts.
func (s *Status) add(a Attempt) {
	s.Count++
	s.Attempts = append(s.Attempts, a)
	if n := len(s.Attempts); n > keptAttempts {
		s.Attempts = append([]Attempt(nil), s.Attempts[n-keptAttempts:]...)
	}
}

// DeliveryID names one end of a job.
func DeliveryID(rec job.Record) string { return fmt.Sprintf("%s.%d", rec.JobID, rec.Requeues) }

// Book keeps each job's delivery in the webhooks bucket, keyed by job id.
type Book struct {
	JS jetstream.JetStream
	KV jetstream.KeyValue
	// Retention is the records': an entry stays as long as its record.
	Retention jobstore.Retention
}

// OpenBook opens the webhooks bucket.
func OpenBook(ctx context.Context, js jetstream.JetStream, r jobstore.Retention) (*Book, error) {
	kv, err := js.KeyValue(ctx, bus.BucketWebhooks)
	if err != nil {
		return nil, fmt.Errorf("webhooks bucket: %w", err)
	}
	return &Book{JS: js, KV: kv, Retention: r}, nil
}

// maxEntryBytes bounds an entry as it is read back (a URL of 2 KiB and
// keptAttempts attempts are far below).
const maxEntryBytes = 64 << 10

// Get reads a job's entry; found is false when there is none.
func (b *Book) Get(ctx context.Context, jobID string) (s Status, found bool, err error) {
	e, err := b.KV.Get(ctx, jobID)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return Status{}, false, nil
	}
	if err != nil {
		return Status{}, false, fmt.Errorf("read webhook of %s: %w", jobID, err)
	}
	if len(e.Value()) > maxEntryBytes || json.Unmarshal(e.Value(), &s) != nil {
		return Status{}, false, nil // junk: as good as none, and overwritten by the next attempt
	}
	return s, true, nil
}

// Put writes a job's entry with its record's retention as its TTL
// (KeyValue.Put takes none, so this publishes as Put does, with the TTL
// header).
func (b *Book) Put(ctx context.Context, jobID string, s Status) error {
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if ttl := b.Retention.TTL(s.EndedAs); ttl <= 0 {
		_, err = b.KV.Put(ctx, jobID, data)
	} else {
		_, err = b.JS.PublishMsg(ctx, &nats.Msg{Subject: bus.WebhookSubject(jobID), Data: data}, jetstream.WithMsgTTL(ttl))
	}
	if err != nil {
		return fmt.Errorf("write webhook of %s: %w", jobID, err)
	}
	return nil
}

// View is what GET /v1/jobs/{id} shows of a job's webhook: nil without a
// callback_url; the bucket's entry for this end of the job; else the URL,
// pending once the job has ended (the leader takes it up within moments).
func (b *Book) View(ctx context.Context, rec job.Record) (*Status, error) {
	if rec.Spec.CallbackURL == "" {
		return nil, nil
	}
	s, found, err := b.Get(ctx, rec.JobID)
	if err != nil {
		return nil, err
	}
	if found && s.Delivery == DeliveryID(rec) {
		return &s, nil
	}
	v := &Status{URL: rec.Spec.CallbackURL}
	if rec.Status.Terminal() {
		v.State, v.Delivery = StatePending, DeliveryID(rec)
	}
	return v, nil
}
