package api

import (
	"context"
	"cyberimage/shared/tracing"
	"net/http"
	"time"

	"go.uber.org/zap"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
)

// cancel ends a queued or running job as cancelled. The record changes
// first (a compare-and-set, so a job that completes meanwhile stays
// completed); from then on no runner can claim or complete it. Then the
// runner holding it is told to abandon it (its inference is terminated and
// the delivery never acked) and the work message is removed from the queue.
// If either of those is lost, the next delivery finds the record cancelled
// and simply acks it.
func (s *Server) cancel(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	var was job.Status
	rec, err := s.p.Store.Update(ctx, id, func(rec *job.Record) error {
		was = rec.Status
		return job.Cancel(rec, "cancelled by an operator", time.Now())
	})
	if writeFailure(w, err, refusal{jobstore.ErrNotFound, http.StatusNotFound, "no job " + id},
		refusal{job.ErrNotCancellable, http.StatusConflict,
			"job " + id + " is " + string(rec.Status) + "; only queued or processing jobs can be cancelled"}) {
		return
	}
	if was == job.StatusProcessing && rec.Delivery != nil {
		order := bus.DeliveryOrder(bus.ControlCancel, id, rec.Delivery.Token(), "cancelled by an operator", time.Now())
		if err := s.p.JS.Conn().Publish(bus.ControlSubject(rec.Delivery.Runner), bus.EncodeControl(order)); err != nil {
			s.log.Warn("order cancel", zap.String("job_id", id), zap.Error(err))
		}
	}
	if err := s.removeWork(ctx, rec); err != nil {
		s.log.Warn("remove cancelled work; its next delivery will be acked", zap.String("job_id", id), zap.Error(err))
	}
	s.log.Info("job cancelled", tracing.LogFieldsOf(rec.Traceparent, zap.String("job_id", id), zap.String("was", string(was)))...)
	writeJSON(w, http.StatusOK, map[string]any{"job_id": id, "status": rec.Status, "was": was})
}

// removeWork deletes a job's work message from the queue, if it is there.
func (s *Server) removeWork(ctx context.Context, rec job.Record) error {
	return bus.RemoveWork(ctx, s.p.JS, rec.Spec, rec.JobID)
}
