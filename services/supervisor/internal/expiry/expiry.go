// Package expiry is the leader's sweep of queued jobs past their deadline:
// each is cancelled with deadline_exceeded (job.Expire) and its work
// removed from the queue, so it never takes a GPU. It reads the index of
// jobs in flight, never the bucket. Runners check the deadline again at
// claim, so a job the sweep has not reached yet is not started late
// either; a job that started before its deadline goes on (the deadline is
// about starting).
package expiry

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"cyberimage/services/supervisor/internal/index"
	"cyberimage/services/supervisor/internal/leaderpass"
	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
	"cyberimage/shared/tracing"
)

// Interval is how often the leader sweeps: a queued job ends within about
// this long after its deadline (and a runner never starts it later).
const Interval = time.Second

// Jobs lists unfinished jobs.
type Jobs interface{ Unfinished() []index.Entry }

// Params configure a Sweeper.
type Params struct {
	JS    jetstream.JetStream
	Store *jobstore.Store
	Jobs  Jobs
	leaderpass.Deps
}

// Sweeper ends queued jobs past their deadline; the supervisor runs its
// Pass every Interval while it leads.
type Sweeper struct{ p Params }

// New makes a Sweeper.
func New(p Params) *Sweeper {
	p.Deps = p.For("expiry")
	return &Sweeper{p: p}
}

// Pass sweeps once.
func (s *Sweeper) Pass(ctx context.Context) {
	s.p.Pass(ctx, "expire queued jobs past their deadline", s.runOnce)
}

// due: the index saw the job queued, never started, with a deadline that
// has passed. Expire decides again on the record itself.
func due(e index.Entry, now time.Time) bool {
	return e.Status == job.StatusQueued && e.StartedAt == nil && !e.Deadline.IsZero() && !now.Before(e.Deadline)
}

// runOnce expires every queued job past its deadline and returns how many
// it ended. A job that moved on since the index saw it (claimed, ended) is
// left as it is; an error on one job does not stop the others.
func (s *Sweeper) runOnce(ctx context.Context) (int, error) {
	now := s.p.Now()
	expired := 0
	var errs []error
	for _, e := range s.p.Jobs.Unfinished() {
		if !due(e, now) {
			continue
		}
		rec, err := s.p.Store.Update(ctx, e.JobID, func(rec *job.Record) error { return job.Expire(rec, now) })
		switch {
		case errors.Is(err, job.ErrNotQueued) || errors.Is(err, job.ErrNotDue) || errors.Is(err, jobstore.ErrNotFound):
			continue
		case err != nil:
			errs = append(errs, err)
			continue
		}
		expired++
		log := s.p.Logger.With(tracing.LogFieldsOf(rec.Traceparent, zap.String("job_id", rec.JobID),
			zap.String("priority", string(rec.Spec.Priority.Class())), zap.Time("deadline", rec.Spec.Deadline))...)
		if err := bus.RemoveWork(ctx, s.p.JS, rec.Spec, rec.JobID); err != nil {
			log.Warn("remove expired work; a runner that takes it acks it unrun", zap.Error(err))
		}
		log.Info("job not started by its deadline; cancelled")
	}
	return expired, errors.Join(errs...)
}
