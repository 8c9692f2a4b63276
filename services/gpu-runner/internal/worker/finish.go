package worker

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"

	"cyberimage/shared/job"
)

// finish decides the fate of a delivery after execute returned err, and
// reports whether the failure was transient.
func (w *Worker) finish(d *delivery, err error) (transient bool) {
	switch {
	case err == nil:
		return false // completed and acked
	case errors.Is(err, errAlreadyDone):
		d.log.Info("job already ended; acking the redelivery")
		_ = d.msg.Ack()
	case errors.Is(err, errStale):
		// Another delivery owns the job: never ack (the server would apply
		// it to that delivery) and never touch the record.
		d.log.Warn("delivery went stale; dropping its result without ack")
	case w.workCtx.Err() != nil:
		// Shutting down: hand the job back now rather than after AckWait.
		d.log.Info("runner stopping; job handed back", zap.Error(err))
		_ = d.msg.Nak()
	case isPermanent(err):
		w.fail(d, job.CodeGenerationFailed, err, "permanent failure")
	case d.attempt >= w.p.Settings.MaxDeliver:
		w.fail(d, job.CodeRetriesExhausted, err, "retries exhausted")
	default:
		delay := retryDelay(d.attempt, w.p.RetryBase, time.Minute)
		d.log.Warn("transient failure; job will be retried", zap.Duration("delay", delay), zap.Error(err))
		w.emit(d, job.StatusQueued, 0, 0, "retrying: "+err.Error())
		_ = d.msg.NakWithDelay(delay)
		return true
	}
	return false
}

// fail records the failure with its reason, then terminates the message so
// JetStream stops redelivering it. If the record cannot be written (NATS is
// down), the message is NAKed instead so the failure is not lost.
func (w *Worker) fail(d *delivery, code job.Code, cause error, why string) {
	w.failed.Add(1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	reason := why + ": " + cause.Error()
	_, err := w.p.Store.Update(ctx, d.work.JobID, func(r *job.Record) error {
		if !w.owns(r, d) {
			return errStale
		}
		r.Status = job.StatusFailed
		r.Error = &job.Failure{Code: code, Message: reason}
		r.CompletedAt = job.UTC(time.Now())
		r.Stages = d.stages
		return nil
	})
	switch {
	case errors.Is(err, errStale):
		d.log.Warn("delivery went stale before its failure was recorded; dropping it")
		return
	case err != nil:
		d.log.Error("record failure; job handed back", zap.Error(err))
		_ = d.msg.NakWithDelay(retryDelay(d.attempt, w.p.RetryBase, time.Minute))
		return
	}
	d.log.Error("job failed", zap.String("reason", reason))
	w.emit(d, job.StatusFailed, 0, 0, reason)
	_ = d.msg.TermWithReason(reason)
}
