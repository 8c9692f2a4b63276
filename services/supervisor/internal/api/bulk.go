package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"go.uber.org/zap"

	"cyberimage/services/supervisor/internal/index"
	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
)

// maxBulk bounds one bulk action; an operator repeats it for more.
const maxBulk = 10000

// matching lists up to maxBulk jobs with status s created before cutoff
// (zero: any time), newest first.
func (s *Server) matching(ctx context.Context, status job.Status, cutoff time.Time) ([]index.Entry, error) {
	page, _, err := s.p.Index.List(ctx, index.Filter{Status: status, CreatedBefore: cutoff}, nil, maxBulk)
	return page, err
}

// retryFailed serves POST /v1/jobs/retry-failed: every failed job back in
// the queue, as retry does one (the original app's "retry all failed").
func (s *Server) retryFailed(w http.ResponseWriter, r *http.Request) {
	requeued := []string{}
	skipped := 0
	failed, err := s.matching(r.Context(), job.StatusFailed, time.Time{})
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "listing failed jobs: "+err.Error())
		return
	}
	for _, e := range failed {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		_, err := s.requeue(ctx, e.JobID, "operator re-queue of every failed job")
		cancel()
		switch {
		case err == nil:
			requeued = append(requeued, e.JobID)
		case errors.Is(err, job.ErrNotFailed), errors.Is(err, jobstore.ErrNotFound):
			skipped++ // changed since the index saw it
		default:
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": map[string]string{"message": err.Error()},
				"requeued": len(requeued), "job_ids": requeued})
			return
		}
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"requeued": len(requeued), "skipped": skipped, "job_ids": requeued})
}

// purge serves POST /v1/jobs/purge?status=&older_than=: ended jobs'
// records leave KV now instead of at the end of their retention (the
// original app's "clear" actions). Their images and archived job.json stay
// in S3. Only ended statuses qualify; a job in flight is never purged.
func (s *Server) purge(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	statuses := []job.Status{job.StatusCompleted, job.StatusFailed, job.StatusRejected, job.StatusCancelled}
	if v := q.Get("status"); v != "" {
		st := job.Status(v)
		if !slices.Contains(statuses, st) {
			writeError(w, http.StatusBadRequest, "status must be an ended one: completed, failed, rejected or cancelled")
			return
		}
		statuses = []job.Status{st}
	}
	var cutoff time.Time
	if v := q.Get("older_than"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			writeError(w, http.StatusBadRequest, "older_than must be a duration such as 24h")
			return
		}
		cutoff = time.Now().Add(-d)
	}
	purged := 0
	for _, st := range statuses {
		ended, err := s.matching(r.Context(), st, cutoff)
		if err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": map[string]string{"message": "listing ended jobs: " + err.Error()}, "purged": purged})
			return
		}
		for _, e := range ended {
			ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
			err := s.p.Store.DeleteEnded(ctx, e.JobID)
			cancel()
			switch {
			case err == nil:
				purged++
			case errors.Is(err, jobstore.ErrNotFound), errors.Is(err, jobstore.ErrTransition):
				// Gone or re-queued since the index saw it.
			default:
				writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": map[string]string{"message": err.Error()}, "purged": purged})
				return
			}
		}
	}
	s.log.Info("ended jobs purged by an operator", zap.Int("purged", purged), zap.String("status", q.Get("status")), zap.String("older_than", q.Get("older_than")))
	writeJSON(w, http.StatusOK, map[string]any{"purged": purged})
}
