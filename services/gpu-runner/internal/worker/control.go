package worker

import (
	"time"

	"go.uber.org/zap"
)

func (w *Worker) track(d *delivery) {
	w.mu.Lock()
	w.active[d.work.JobID] = d
	w.mu.Unlock()
}

func (w *Worker) untrack(d *delivery) {
	w.mu.Lock()
	if w.active[d.work.JobID] == d {
		delete(w.active, d.work.JobID)
	}
	w.mu.Unlock()
	close(d.ended)
}

// Abandon stops work on a delivery this runner holds: its inference is
// terminated and the delivery is never acked. If the work does not end
// within AbandonTimeout (an inference that ignores termination), the worker
// reports a fatal error so the process exits and its manager restarts it:
// a hung GPU must never hold a slot forever.
func (w *Worker) Abandon(jobID, delivery, reason string) bool {
	return w.stop(jobID, delivery, reason, errAbandoned)
}

// Cancel stops work on a cancelled job, as Abandon does, but the runner
// was not at fault: its slot does not cool off.
func (w *Worker) Cancel(jobID, delivery, reason string) bool {
	return w.stop(jobID, delivery, reason, errCancelled)
}

// stop acts only on the very delivery the order names: an order about an
// earlier or later delivery of the same job (replayed, or forged) changes
// nothing.
func (w *Worker) stop(jobID, delivery, reason string, cause error) bool {
	w.mu.Lock()
	d, ok := w.active[jobID]
	w.mu.Unlock()
	if !ok || d.id.Token() != delivery {
		return false
	}
	d.log.Warn("stopping work on the supervisor's order", zap.String("reason", reason), zap.Error(cause))
	d.cancel(cause)
	go func() {
		select {
		case <-d.ended:
		case <-time.After(w.p.AbandonTimeout):
			w.fatalOnce.Do(func() {
				d.log.Error("abandoned job did not stop; the runner must restart", zap.Duration("limit", w.p.AbandonTimeout))
				w.fatal <- errHung
			})
		}
	}()
	return true
}

// Fatal reports an unrecoverable state (a hung inference); main exits
// non-zero on it.
func (w *Worker) Fatal() <-chan error { return w.fatal }
