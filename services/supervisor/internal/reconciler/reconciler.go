// Package reconciler finds job records that nothing will ever move: queued
// or processing, while their work message no longer exists in the jobs
// stream (a stale runner's ack deleted it from the work queue, or a process
// died between two steps). It puts their work back, so no accepted job is
// left behind forever.
package reconciler

import (
	"context"
	"cyberimage/shared/tracing"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"cyberimage/services/supervisor/internal/acks"
	"cyberimage/services/supervisor/internal/index"
	"cyberimage/services/supervisor/internal/leaderpass"
	"cyberimage/services/supervisor/internal/recoveries"
	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
)

// Jobs lists unfinished jobs.
type Jobs interface{ Unfinished() []index.Entry }

// Params configure a Reconciler.
type Params struct {
	// DeadLetters settles a job out of deliveries whose advisory never
	// came, as the advisory would have.
	DeadLetters interface {
		Settle(ctx context.Context, adv bus.Advisory) error
	}
	MaxDeliver int
	JS         jetstream.JetStream
	Store      *jobstore.Store
	Jobs       Jobs
	Acks       acks.Source
	Log        *recoveries.Log
	// Grace: records changed more recently than this are left alone, so a
	// job between its record and its queueing is not mistaken for lost.
	Grace   time.Duration
	AckWait time.Duration
	leaderpass.Deps
}

// Reconciler finds lost jobs; the supervisor runs its Pass every
// CYBERIMAGE_RECONCILE_INTERVAL while it leads.
type Reconciler struct{ p Params }

// New makes a Reconciler.
func New(p Params) *Reconciler {
	p.Deps = p.For("reconciler")
	return &Reconciler{p: p}
}

// Pass reconciles once.
func (r *Reconciler) Pass(ctx context.Context) { r.p.Pass(ctx, "reconcile", r.runOnce) }

// runOnce re-queues every lost job and returns how many.
func (r *Reconciler) runOnce(ctx context.Context) (int, error) {
	stream, err := r.p.JS.Stream(ctx, bus.StreamJobs)
	if err != nil {
		return 0, err
	}
	now := r.p.Now()
	requeued := 0
	for _, e := range r.p.Jobs.Unfinished() {
		// ChangedAt is the server's time of the last write: a runner's
		// clock cannot make a fresh record look old.
		if now.Sub(e.ChangedAt) < r.p.Grace || r.deliveryAlive(e, now) {
			continue
		}
		msg, err := stream.GetLastMsgForSubject(ctx, bus.WorkSubject(e.Model, e.Priority, e.JobID))
		if err == nil {
			if r.exhausted(e, msg.Sequence) {
				r.settle(ctx, e, msg.Sequence)
			}
			continue // otherwise the work is there; JetStream will deliver it
		}
		if !errors.Is(err, jetstream.ErrMsgNotFound) {
			return requeued, fmt.Errorf("look up work of %s: %w", e.JobID, err)
		}
		ok, err := r.requeue(ctx, e, now)
		if err != nil {
			r.p.Logger.Warn("re-queue lost job", zap.String("job_id", e.JobID), zap.Error(err))
			continue
		}
		if ok {
			requeued++
		}
	}
	return requeued, nil
}

// exhausted: the record's last delivery of this very message was the last
// one JetStream will make, and nobody keeps it alive (checked by the
// caller). The server's MAX_DELIVERIES advisory should have ended the job;
// if it was lost (consumed elsewhere, a node lost), nothing else will.
func (r *Reconciler) exhausted(e index.Entry, seq uint64) bool {
	return r.p.DeadLetters != nil && r.p.MaxDeliver > 0 && e.Delivery != nil &&
		e.Delivery.StreamSeq == seq && e.Delivery.Delivered >= r.p.MaxDeliver
}

// settle hands an exhausted job to the dead-letter handler as its lost
// advisory would have, with the same checks against JetStream's state.
func (r *Reconciler) settle(ctx context.Context, e index.Entry, seq uint64) {
	adv := bus.Advisory{Type: bus.AdvisoryMaxDeliver, Stream: bus.StreamJobs, Consumer: bus.ClassConsumer(e.Model, e.Priority),
		StreamSeq: seq, Deliveries: uint64(e.Delivery.Delivered)}
	if err := r.p.DeadLetters.Settle(ctx, adv); err != nil {
		r.p.Logger.Warn("settle a job out of deliveries", zap.String("job_id", e.JobID), zap.Error(err))
		return
	}
	r.p.Logger.Warn("job out of deliveries settled without its advisory", zap.String("job_id", e.JobID), zap.Uint64("stream_seq", seq))
}

// deliveryAlive: a runner still keeps the delivery alive; its completion
// will land on the record even though the message is gone.
func (r *Reconciler) deliveryAlive(e index.Entry, now time.Time) bool {
	if e.Status != job.StatusProcessing || e.Delivery == nil {
		return false
	}
	return acks.KeptAlive(r.p.Acks, e.Delivery.Token(), now, r.p.AckWait)
}

func (r *Reconciler) requeue(ctx context.Context, e index.Entry, now time.Time) (bool, error) {
	const reason = "work message no longer in the queue"
	rec, err := r.p.Store.Update(ctx, e.JobID, func(rec *job.Record) error {
		if !rec.UpdatedAt.Equal(e.UpdatedAt) {
			return jobstore.ErrUnchanged // it moved on since we looked
		}
		return job.RequeueLost(rec, now, reason)
	})
	if errors.Is(err, jobstore.ErrUnchanged) || errors.Is(err, job.ErrEnded) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	// The message id is new for each re-queue, so the dedup window of the
	// lost message cannot swallow it.
	if _, err := r.p.JS.PublishMsg(ctx, bus.WorkMsg(bus.RequeueWork(rec), bus.ReconcileMsgID(rec.JobID, rec.UpdatedAt))); err != nil {
		return false, fmt.Errorf("queue work: %w", err)
	}
	r.p.Log.Add(recoveries.Recovery{At: now, Kind: recoveries.KindLost, JobID: rec.JobID, Runner: e.Runner,
		Attempt: rec.Attempts, Reason: reason})
	r.p.Logger.Warn("lost job re-queued", tracing.LogFieldsOf(rec.Traceparent, zap.String("job_id", rec.JobID), zap.String("was", string(e.Status)))...)
	return true, nil
}
