package watchdog

import (
	"context"
	"time"

	"go.uber.org/zap"

	"cyberimage/services/supervisor/internal/recoveries"
	"cyberimage/shared/tracing"
)

// LostPassInterval is how often LostPass should run for a lostAfter: often
// enough that a lost runner's work is back within a heartbeat or two of
// the threshold, seldom enough to cost nothing (a map lookup per running
// job).
func LostPassInterval(lostAfter time.Duration) time.Duration {
	return min(max(lostAfter/4, 250*time.Millisecond), 2*time.Second)
}

// LostPass takes away every delivery whose runner is gone (Liveness), as a
// stall is recovered (fenced on the delivery, recorded with kind
// runner_lost, abandoned, NAKed) but with no redelivery delay: the job did
// nothing wrong. The runner's stall history is left alone. It returns how
// many jobs it took back.
func (w *Watchdog) LostPass(ctx context.Context) int {
	if w.p.Liveness == nil || w.p.LostAfter <= 0 {
		return 0
	}
	now := w.p.Now()
	n := 0
	for _, e := range w.p.Jobs.Processing() {
		if e.Delivery == nil {
			continue
		}
		why, gone := w.p.Liveness.Gone(e.Delivery.Runner, e.Delivery.Boot, w.p.LostAfter)
		if !gone {
			continue
		}
		done, err := w.p.Actions.Recover(ctx, e, recoveries.KindRunnerLost, why)
		if err != nil {
			w.p.Logger.Warn("take work from a lost runner", zap.String("job_id", e.JobID), zap.String("runner", e.Delivery.Runner), zap.Error(err))
			continue
		}
		if !done {
			continue
		}
		n++
		elapsed := time.Duration(0)
		if !e.RunStartedAt.IsZero() {
			elapsed = now.Sub(e.RunStartedAt)
		}
		w.p.Log.Add(recoveries.Recovery{At: now, Kind: recoveries.KindRunnerLost, JobID: e.JobID, Runner: e.Delivery.Runner,
			Attempt: e.Attempts, Delivery: e.Delivery.Token(), Reason: why, ElapsedSeconds: elapsed.Seconds()})
		w.p.Logger.Warn("job taken from a lost runner", tracing.LogFieldsOf(e.Traceparent, zap.String("job_id", e.JobID),
			zap.String("runner", e.Delivery.Runner), zap.Int("attempt", e.Attempts), zap.String("reason", why))...)
	}
	return n + w.handBackOrphans(ctx, now)
}

// handBackOrphans returns to the queue the deliveries gone runners held
// without a claim: jobs waiting in their prefetch buffers, whose records
// are still queued, which only the runner's own last heartbeat names.
// Without this they would wait for AckWait.
func (w *Watchdog) handBackOrphans(ctx context.Context, now time.Time) int {
	n := 0
	for _, o := range w.p.Liveness.Orphans(w.p.LostAfter) {
		done, err := w.p.Actions.HandBack(ctx, o.Runner, o.Job)
		if err != nil {
			w.p.Logger.Warn("hand back a lost runner's prefetched job", zap.String("job_id", o.Job.JobID), zap.String("runner", o.Runner), zap.Error(err))
			continue
		}
		if !done {
			continue
		}
		n++
		reason := "prefetched by runner " + o.Runner + ", which is gone: handed back unclaimed"
		w.p.Log.Add(recoveries.Recovery{At: now, Kind: recoveries.KindRunnerLost, JobID: o.Job.JobID, Runner: o.Runner,
			Delivery: o.Job.Delivery, Reason: reason})
		w.p.Logger.Warn("prefetched job handed back from a lost runner", zap.String("job_id", o.Job.JobID), zap.String("runner", o.Runner),
			zap.String("delivery", o.Job.Delivery))
	}
	return n
}
