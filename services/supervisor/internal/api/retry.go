package api

import (
	"context"
	"cyberimage/shared/tracing"
	"net/http"
	"time"

	"go.uber.org/zap"

	"cyberimage/services/supervisor/internal/recoveries"
	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
)

// retry re-queues a failed job with a fresh attempt count: the operator's
// way out of the dead-letter queue. Only failed jobs qualify; a completed
// job is never run again.
func (s *Server) retry(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	rec, err := s.requeue(ctx, id, "operator re-queue")
	if writeFailure(w, err, refusal{jobstore.ErrNotFound, http.StatusNotFound, "no job " + id},
		refusal{job.ErrNotFailed, http.StatusConflict, "job " + id + " is " + string(rec.Status) + "; only failed jobs can be re-queued"}) {
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"job_id": id, "status": rec.Status, "requeues": rec.Requeues})
}

// requeue moves a failed job back to queued (a fresh attempt count) and
// queues its work again.
func (s *Server) requeue(ctx context.Context, id, reason string) (job.Record, error) {
	rec, err := s.p.Store.Update(ctx, id, job.Requeue)
	if err != nil {
		return rec, err
	}
	if _, err := s.p.JS.PublishMsg(ctx, bus.WorkMsg(bus.RequeueWork(rec), bus.RequeueMsgID(rec.JobID, rec.Requeues))); err != nil {
		// The record says queued; the reconciler queues the work if this
		// publish is lost.
		s.log.Warn("queue re-queued job", zap.String("job_id", id), zap.Error(err))
	}
	s.p.Recoveries.Add(recoveries.Recovery{At: time.Now().UTC(), Kind: recoveries.KindRequeue, JobID: id, Reason: reason})
	s.log.Info("failed job re-queued by an operator", tracing.LogFieldsOf(rec.Traceparent, zap.String("job_id", id), zap.Int("requeues", rec.Requeues))...)
	return rec, nil
}
