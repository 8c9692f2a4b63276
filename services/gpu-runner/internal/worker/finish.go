package worker

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
)

// end closes a delivery: it decides its fate, stops its keep-alive, and
// tells its slot what to do before pulling again.
func (w *Worker) end(d *delivery, err error) {
	d.stopKeepAlive()
	o := w.finish(d, err)
	d.events.close()
	d.endSpan(o, err)
	d.cancel(errEnded)
	w.untrack(d)
	w.busy.Add(-1)
	switch o {
	case outcomeTransient:
		d.slot.needProbe.Store(true)
	case outcomeTakenAway:
		d.slot.needCooloff.Store(true)
	}
}

// finish decides the fate of a delivery after its work returned err (nil:
// its record says completed). This file is the one place where a delivery
// is acked, NAKed, terminated or deliberately left alone.
func (w *Worker) finish(d *delivery, err error) outcome {
	cause := context.Cause(d.ctx)
	switch {
	case err == nil:
		w.acknowledge(d)
		return outcomeDone
	case errors.Is(err, errAlreadyDone):
		d.log.Info("job already ended; acking the redelivery")
		_ = d.msg.Ack()
		return outcomeDone
	case errors.Is(err, errExpired):
		d.log.Info("job not started by its deadline; cancelled without running and acked",
			zap.Time("deadline", d.work.Spec.Deadline))
		_ = d.msg.Ack()
		return outcomeDone
	case errors.Is(err, errStale) || errors.Is(cause, errStale):
		// Another delivery owns the job: never ack (the server would apply
		// it to that delivery) and never touch the record.
		d.log.Warn("delivery went stale; dropping its result without ack")
		return outcomeTakenAway
	case errors.Is(cause, errAbandoned):
		d.log.Warn("delivery abandoned on the supervisor's order; not acking it")
		return outcomeTakenAway
	case errors.Is(err, errHandBack):
		d.log.Info("runner stopping; unstarted job handed back")
		_ = d.msg.Nak()
		return outcomeDone
	case errors.Is(cause, errCancelled) || errors.Is(err, errCancelled):
		d.log.Info("job cancelled; dropping it without ack")
		return outcomeDone
	}
	// Every other outcome acks, NAKs or terminates, which only the owner of
	// the delivery may do.
	if !w.mayAct(d) {
		d.log.Warn("delivery went stale while failing; dropping it without ack", zap.Error(err))
		return outcomeTakenAway
	}
	switch {
	case w.workCtx.Err() != nil:
		// Shutting down: hand the job back now rather than after AckWait.
		d.log.Info("runner stopping; job handed back", zap.Error(err))
		_ = d.msg.Nak()
	case isPermanent(err):
		w.fail(d, job.CodeGenerationFailed, err, "permanent failure")
	case d.delivered >= w.p.Settings.MaxDeliver:
		w.fail(d, job.CodeRetriesExhausted, err, "retries exhausted")
	default:
		delay := retryDelay(d.delivered, w.p.RetryBase, time.Minute)
		d.log.Warn("transient failure; job will be retried", zap.Duration("delay", delay), zap.Error(err))
		w.emit(d, job.StatusQueued, 0, 0, "retrying: "+err.Error())
		_ = d.msg.NakWithDelay(delay)
		return outcomeTransient
	}
	return outcomeDone
}

// fail records the failure with its reason, then terminates the message so
// JetStream stops redelivering it (the supervisor copies it to the dead
// letter stream from the advisory). If the record cannot be written (NATS
// is down), the message is NAKed instead so the failure is not lost.
func (w *Worker) fail(d *delivery, code job.Code, cause error, why string) {
	w.failed.Add(1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	reason := why + ": " + cause.Error()
	_, err := w.p.Store.Update(ctx, d.work.JobID, func(r *job.Record) error {
		if err := job.Fail(r, &d.id, code, reason, d.stages, w.p.Clock()); err != nil {
			return errStale
		}
		return nil
	})
	switch {
	case errors.Is(err, errStale):
		d.log.Warn("delivery went stale before its failure was recorded; dropping it")
		return
	case err != nil:
		d.log.Error("record failure; job handed back", zap.Error(err))
		_ = d.msg.NakWithDelay(retryDelay(d.delivered, w.p.RetryBase, time.Minute))
		return
	}
	w.p.Observer.Failed(d.spec.Model)
	d.log.Error("job failed", zap.String("reason", reason))
	w.emit(d, job.StatusFailed, 0, 0, reason)
	_ = d.msg.TermWithReason(bus.TermReason(d.work.JobID, reason))
}

// acknowledge acks a completed delivery. It does not wait for the server
// to confirm: the record says completed already, so an ack that is lost
// costs only a redelivery after AckWait, which finds the job ended and
// acks it (errAlreadyDone); the round trip would cost every job a wake-up
// and a message for that rare case.
func (w *Worker) acknowledge(d *delivery) {
	if err := d.msg.Ack(); err != nil {
		d.log.Warn("ack not sent; a redelivery will ack it", zap.Error(err))
	}
	w.emit(d, job.StatusCompleted, d.spec.Steps, d.spec.Steps, "")
	w.done.Add(1)
	var endToEnd time.Duration
	if d.record.CompletedAt != nil {
		endToEnd = max(d.record.CompletedAt.Sub(d.record.CreatedAt), 0)
	}
	w.p.Observer.Completed(d.spec.Model, d.stages, endToEnd)
	d.log.Info("job completed", zap.Int("attempt", d.attempt), zap.Strings("images", d.keys),
		zap.Float64("inference_ms", d.stages.InferenceMS), zap.Float64("encode_ms", d.stages.EncodeMS),
		zap.Float64("upload_ms", d.stages.UploadMS))
}

// reject terminates a message that is not a job this runner can hold
// (unreadable), before any delivery exists for it.
func (w *Worker) reject(msg jetstream.Msg, reason string) { _ = msg.TermWithReason(reason) }
