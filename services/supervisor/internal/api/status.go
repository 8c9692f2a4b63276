package api

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"cyberimage/services/supervisor/internal/tracker"
	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/statusapi"
)

// queueState is the consumer's view of the work queue.
type queueState struct {
	statusapi.Queue
	// consumers are the runners' consumers by name, true when paused.
	consumers map[string]bool
}

// consumerState adds up the runners' consumers (one per model).
func (s *Server) consumerState(ctx context.Context) (queueState, error) {
	q := queueState{consumers: map[string]bool{}}
	stream, err := s.p.JS.Stream(ctx, bus.StreamJobs)
	if err != nil {
		return q, fmt.Errorf("jobs stream: %w", err)
	}
	infos := stream.ListConsumers(ctx)
	for info := range infos.Info() {
		q.Pending += info.NumPending
		q.InProgress += info.NumAckPending
		q.Redelivered += info.NumRedelivered
		q.consumers[info.Name] = info.Paused
	}
	if err := infos.Err(); err != nil {
		return q, fmt.Errorf("consumer info: %w", err)
	}
	if dlq, err := s.p.JS.Stream(ctx, bus.StreamDLQ); err == nil {
		q.Dead = dlq.CachedInfo().State.Msgs // Stream just fetched it
	}
	return q, nil
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	q, err := s.consumerState(ctx)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	now := time.Now()
	running := s.p.Index.Processing()
	list := make([]statusapi.InProgress, 0, len(running))
	alive := make(map[string]bool, len(running))
	for _, e := range running {
		alive[e.JobID] = true
		item := statusapi.InProgress{JobID: e.JobID, Model: e.Model, Runner: e.Runner, Attempt: e.Attempts, StartedAt: e.StartedAt}
		if e.Delivery != nil {
			// Elapsed counts from the start of this delivery's run, on the
			// server's clock, as the watchdog does.
			item.Deliveries, item.Delivery = e.Delivery.Delivered, e.Delivery.Token()
			item.StartedAt = job.UTC(e.RunStartedAt)
			item.ElapsedSeconds = now.Sub(e.RunStartedAt).Seconds()
		}
		if p, ok := s.p.Tracker.Progress(e.JobID); ok {
			item.Step, item.TotalSteps, item.LastProgress = p.Step, p.TotalSteps, job.UTC(p.ReceivedAt)
		}
		list = append(list, item)
	}
	s.p.Tracker.Forget(alive)
	runners := s.runners()
	leader, holder := s.p.Leader()
	writeJSON(w, http.StatusOK, statusapi.Status{Queue: q.Queue, Jobs: statusapi.Counts(s.p.Index.Counts()), JobsInProgress: list,
		Runners: withDrains(runners, s.drainedRunners(ctx)), Models: s.modelStates(q), Recoveries: s.p.Recoveries.Recent(), RecoveryCounts: s.p.Recoveries.Counts(),
		Supervisor: statusapi.Supervisor{Leader: leader, Holder: holder}, At: now.UTC()})
}

func (s *Server) queue(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("detailed") == "true" {
		writeJSON(w, http.StatusOK, s.p.Index.Detailed(time.Now()))
		return
	}
	writeJSON(w, http.StatusOK, s.p.Index.Counts())
}

// runners are the runners heard from, with the watchdog's judgement:
// healthy, unhealthy or lost.
func (s *Server) runners() []tracker.Runner {
	runners := s.p.Tracker.Runners()
	for i := range runners {
		if runners[i].Health == "healthy" && s.p.Unhealthy(runners[i].Runner) {
			runners[i].Health = "unhealthy"
		}
	}
	return runners
}
