// Package deadletter ends jobs that JetStream gave up on. It consumes the
// runners' consumer advisories (captured durably in a stream, so none is
// missed while no supervisor runs): a job out of deliveries or terminated
// is recorded failed with its reason, its work message is copied to the
// dead-letter stream, and the original is removed from the work queue.
package deadletter

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"cyberimage/services/supervisor/internal/acks"
	"cyberimage/services/supervisor/internal/recoveries"
	"cyberimage/shared/backoff"
	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
	"cyberimage/shared/lifecycle"
	"cyberimage/shared/tracing"
)

// Params configure the Handler.
type Params struct {
	JS    jetstream.JetStream
	Store *jobstore.Store
	Log   *recoveries.Log
	// Acks and AckWait tell whether a runner still keeps a delivery
	// alive, which an advisory about it must not contradict.
	Acks    acks.Source
	AckWait time.Duration
	// Drops counts advisories that did not decode or were not believed.
	Drops  *bus.Drops
	Logger *zap.Logger
}

// Handler consumes advisories; the supervisor runs it (Run) while it
// leads.
type Handler struct {
	p    Params
	log  *zap.Logger
	cons jetstream.Consumer
	// missing is set while the advisories consumer cannot be found: the
	// supervisor is not ready (the provision step brings it back).
	missing atomic.Bool
}

// Bound is nil unless the advisories consumer went missing.
func (h *Handler) Bound() error {
	if h.missing.Load() {
		return fmt.Errorf("consumer %s of %s unavailable", bus.ConsumerSupervisor, bus.StreamAdvisories)
	}
	return nil
}

// New makes a Handler.
func New(p Params) *Handler {
	if p.Drops == nil {
		p.Drops = bus.NewDrops(p.Logger, time.Minute)
	}
	return &Handler{p: p, log: p.Logger.Named("deadletter")}
}

// fetchWait bounds one pass's wait for advisories, and is the pause
// after a pass that failed.
const fetchWait = time.Second

// Run handles advisories until ctx ends, pass after pass; after a pass
// that failed (the consumer missing or gone, NATS unreachable) it waits
// fetchWait and binds again: the provision step brings a lost consumer
// back.
func (h *Handler) Run(ctx context.Context) {
	pause := lifecycle.Policy{Backoff: backoff.Fixed(fetchWait)}
	_ = lifecycle.Retry(ctx, pause, func(ctx context.Context) error {
		for ctx.Err() == nil {
			if err := h.Pass(ctx); err != nil {
				return err
			}
		}
		return nil
	})
}

// Pass handles the advisories that arrive within fetchWait, binding to
// the advisories consumer first when it is not bound. It returns why it
// could not fetch.
func (h *Handler) Pass(ctx context.Context) error {
	if h.cons == nil {
		cons, err := h.p.JS.Consumer(ctx, bus.StreamAdvisories, bus.ConsumerSupervisor)
		if err != nil {
			if !h.missing.Swap(true) {
				h.log.Warn("advisories consumer unavailable; not ready, binding again when it is back", zap.Error(err))
			}
			return fmt.Errorf("bind consumer %s: %w", bus.ConsumerSupervisor, err)
		}
		if h.missing.Swap(false) {
			h.log.Info("bound to the advisories consumer again")
		}
		h.cons = cons
	}
	fctx, cancel := context.WithTimeout(ctx, fetchWait)
	defer cancel()
	batch, err := h.cons.Fetch(16, jetstream.FetchContext(fctx))
	if err != nil {
		return fmt.Errorf("fetch advisories: %w", err)
	}
	for m := range batch.Messages() {
		if err := h.handle(ctx, m.Data()); err != nil {
			h.log.Warn("advisory not handled; will retry", zap.Error(err))
			_ = m.NakWithDelay(2 * time.Second)
			continue
		}
		_ = m.Ack()
	}
	// A consumer deleted under us answers pulls with no responders: bind
	// again (and say so) on the next pass.
	if err := batch.Error(); errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrConsumerNotFound) {
		h.cons = nil
		h.missing.Store(true)
		h.log.Warn("advisories consumer gone; not ready, binding again when it is back", zap.Error(err))
		return fmt.Errorf("advisories consumer gone: %w", err)
	}
	return nil
}

// handle ends the job an advisory is about. Every step is idempotent, so a
// redelivered advisory does no harm.
func (h *Handler) handle(ctx context.Context, data []byte) error {
	adv, err := bus.DecodeAdvisory(data)
	if err != nil {
		h.p.Drops.Note("junk:advisory", "", err)
		return nil
	}
	return h.Settle(ctx, adv)
}

// Settle ends the job an advisory (received, or reconstructed by the
// reconciler when the server's was lost) is about, if JetStream's state
// bears it out. Every step is idempotent.
func (h *Handler) Settle(ctx context.Context, adv bus.Advisory) error {
	jobs, err := h.p.JS.Stream(ctx, bus.StreamJobs)
	if err != nil {
		return err
	}
	var work bus.Work
	raw, err := jobs.GetMsg(ctx, adv.StreamSeq)
	switch {
	case err == nil:
		if work, err = bus.DecodeWork(raw.Data); err != nil {
			h.log.Error("advisory for a message that names no job", zap.Uint64("stream_seq", adv.StreamSeq), zap.Error(err))
			return h.deadLetter(ctx, "unknown", strconv.FormatUint(adv.StreamSeq, 10), raw.Data, adv, adv.Reason)
		}
	case errors.Is(err, jetstream.ErrMsgNotFound):
		// A terminated message is gone already; its reason names the job.
		work.JobID = bus.JobIDFromTermReason(adv.Reason)
	default:
		return fmt.Errorf("get message %d: %w", adv.StreamSeq, err)
	}
	if work.JobID == "" {
		h.p.Drops.Note("unbelieved:advisory", "", fmt.Errorf("advisory for message %d names no job and the message is gone", adv.StreamSeq))
		return nil
	}
	believed, why, err := h.believe(ctx, adv, raw != nil, work)
	if err != nil {
		return err
	}
	if !believed {
		h.p.Drops.Note("unbelieved:advisory", "", fmt.Errorf("advisory %s for job %s: %s", adv.Type, work.JobID, why))
		return nil
	}
	reason, err := h.failRecord(ctx, work.JobID, adv)
	if err != nil {
		return err
	}
	if work.Spec.Model == "" {
		rec, _, err := h.p.Store.Get(ctx, work.JobID)
		if err != nil {
			return err
		}
		work.Spec = rec.Spec
	}
	if err := h.deadLetter(ctx, work.Spec.Model, work.JobID, bus.EncodeWork(work), adv, reason); err != nil {
		return err
	}
	if raw != nil {
		if err := jobs.DeleteMsg(ctx, adv.StreamSeq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return fmt.Errorf("remove dead message %d: %w", adv.StreamSeq, err)
		}
	}
	h.p.Log.Add(recoveries.Recovery{At: time.Now().UTC(), Kind: recoveries.KindDeadLetter, JobID: work.JobID,
		Attempt: int(adv.Deliveries), Reason: reason})
	h.log.Warn("job dead-lettered", tracing.LogFieldsOf(work.Traceparent, zap.String("job_id", work.JobID), zap.Uint64("deliveries", adv.Deliveries), zap.String("reason", reason))...)
	return nil
}

// believe checks an advisory against JetStream's and the record's own
// state before anything is failed or removed on its word: anyone who can
// publish on the advisory subjects could otherwise fail any job.
//   - MSG_TERMINATED: whoever terminates a job (a runner, the watchdog on
//     a last stall) records the failure first, so only a job already
//     failed is dead-lettered; a TERM never fails a job by itself.
//   - MAX_DELIVERIES: the message must still be in the queue (a work queue
//     keeps an exhausted message), the consumer must have delivered it and
//     allow no more deliveries than the advisory counts, and no runner may
//     be keeping a delivery of it alive.
func (h *Handler) believe(ctx context.Context, adv bus.Advisory, present bool, work bus.Work) (bool, string, error) {
	rec, _, err := h.p.Store.Get(ctx, work.JobID)
	switch {
	case errors.Is(err, jobstore.ErrNotFound):
		return present, "no record and no message", nil
	case err != nil:
		return false, "", err
	}
	if adv.Type == bus.AdvisoryTerminated {
		if rec.Status != job.StatusFailed {
			return false, "terminated but the record is " + string(rec.Status), nil
		}
		return true, "", nil
	}
	if rec.Status.Terminal() {
		return true, "", nil // ended already: dead-lettering and removing it again is harmless
	}
	if !present {
		return false, "the message is not in the queue", nil
	}
	name := adv.Consumer
	if name == "" {
		name = bus.ClassConsumer(rec.Spec.Model, rec.Spec.Priority)
	}
	cons, err := h.p.JS.Consumer(ctx, bus.StreamJobs, name)
	if err != nil {
		return false, "", fmt.Errorf("consumer %s: %w", name, err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return false, "", fmt.Errorf("consumer %s: %w", name, err)
	}
	switch {
	case info.Config.MaxDeliver <= 0 || adv.Deliveries < uint64(info.Config.MaxDeliver):
		return false, fmt.Sprintf("%d deliveries, the consumer allows %d", adv.Deliveries, info.Config.MaxDeliver), nil
	case info.Delivered.Stream < adv.StreamSeq:
		return false, "the consumer never delivered it", nil
	}
	if rec.Status == job.StatusProcessing && rec.Delivery != nil && h.p.Acks != nil {
		if acks.KeptAlive(h.p.Acks, rec.Delivery.Token(), time.Now(), h.p.AckWait) {
			return false, "a runner keeps delivery " + rec.Delivery.Token() + " alive", nil
		}
	}
	return true, "", nil
}

// failRecord moves the record to failed (unless it already ended) and
// returns the reason recorded.
func (h *Handler) failRecord(ctx context.Context, id string, adv bus.Advisory) (string, error) {
	var reason string
	rec, err := h.p.Store.Update(ctx, id, func(r *job.Record) error {
		if err := job.GiveUp(r, int(adv.Deliveries), time.Now()); err != nil {
			return err
		}
		reason = r.Error.Message
		return nil
	})
	switch {
	case errors.Is(err, job.ErrEnded):
		if rec.Error != nil {
			return rec.Error.Message, nil
		}
		return string(rec.Status), nil
	case errors.Is(err, jobstore.ErrNotFound):
		return "no job record: " + adv.Reason, nil
	case err != nil:
		return "", err
	}
	return reason, nil
}

func (h *Handler) deadLetter(ctx context.Context, model, id string, payload []byte, adv bus.Advisory, reason string) error {
	// One dead letter per work message, however often the advisory comes.
	msg := bus.EncodeDeadLetter(bus.DeadLetter{Model: model, JobID: id, Reason: reason, Deliveries: adv.Deliveries,
		StreamSeq: adv.StreamSeq, Work: payload})
	if _, err := h.p.JS.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("dead-letter job %s: %w", id, err)
	}
	return nil
}
