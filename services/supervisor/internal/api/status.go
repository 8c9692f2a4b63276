package api

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"cyberimage/services/supervisor/internal/recoveries"
	"cyberimage/services/supervisor/internal/tracker"
	"cyberimage/shared/bus"
	"cyberimage/shared/job"
)

// queueState is the consumer's view of the work queue.
type queueState struct {
	Pending     uint64 `json:"pending"`
	InProgress  int    `json:"in_progress"`
	Redelivered int    `json:"redelivered"`
	// Dead is the number of messages in the dead-letter stream.
	Dead uint64 `json:"dead"`
}

type inProgress struct {
	JobID          string     `json:"job_id"`
	Model          string     `json:"model"`
	Runner         string     `json:"runner"`
	Attempt        int        `json:"attempt"`
	Deliveries     int        `json:"deliveries"`
	Delivery       string     `json:"delivery,omitempty"`
	StartedAt      *time.Time `json:"started_at,omitempty"`
	ElapsedSeconds float64    `json:"elapsed_seconds"`
	Step           int        `json:"step"`
	TotalSteps     int        `json:"total_steps"`
	LastProgress   *time.Time `json:"last_progress,omitempty"`
}

type statusReply struct {
	Queue          queueState            `json:"queue"`
	Jobs           any                   `json:"jobs"`
	JobsInProgress []inProgress          `json:"jobs_in_progress"`
	Runners        []tracker.Runner      `json:"runners"`
	Recoveries     []recoveries.Recovery `json:"recoveries"`
	RecoveryCounts map[string]int64      `json:"recovery_counts"`
	Supervisor     supervisorState       `json:"supervisor"`
	At             time.Time             `json:"at"`
}

type supervisorState struct {
	Leader bool   `json:"leader"`
	Holder string `json:"leader_id"`
}

// consumerState adds up the runners' consumers (one per model).
func (s *Server) consumerState(ctx context.Context) (queueState, error) {
	var q queueState
	stream, err := s.p.JS.Stream(ctx, bus.StreamJobs)
	if err != nil {
		return q, fmt.Errorf("jobs stream: %w", err)
	}
	infos := stream.ListConsumers(ctx)
	for info := range infos.Info() {
		q.Pending += info.NumPending
		q.InProgress += info.NumAckPending
		q.Redelivered += info.NumRedelivered
	}
	if err := infos.Err(); err != nil {
		return q, fmt.Errorf("consumer info: %w", err)
	}
	if dlq, err := s.p.JS.Stream(ctx, bus.StreamDLQ); err == nil {
		if di, err := dlq.Info(ctx); err == nil {
			q.Dead = di.State.Msgs
		}
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
	list := make([]inProgress, 0, len(running))
	alive := make(map[string]bool, len(running))
	for _, e := range running {
		alive[e.JobID] = true
		item := inProgress{JobID: e.JobID, Model: e.Model, Runner: e.Runner, Attempt: e.Attempts, StartedAt: e.StartedAt}
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
	runners := s.p.Tracker.Runners()
	for i := range runners {
		if runners[i].Health == "healthy" && s.p.Unhealthy(runners[i].Runner) {
			runners[i].Health = "unhealthy"
		}
	}
	leader, holder := s.p.Leader()
	writeJSON(w, http.StatusOK, statusReply{Queue: q, Jobs: s.p.Index.Counts(), JobsInProgress: list,
		Runners: runners, Recoveries: s.p.Recoveries.Recent(), RecoveryCounts: s.p.Recoveries.Counts(),
		Supervisor: supervisorState{Leader: leader, Holder: holder}, At: now.UTC()})
}

func (s *Server) queue(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("detailed") == "true" {
		writeJSON(w, http.StatusOK, s.p.Index.Detailed(time.Now()))
		return
	}
	writeJSON(w, http.StatusOK, s.p.Index.Counts())
}

func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	c := s.p.Index.Counts()
	fmt.Fprintf(w, "# TYPE cyberimage_jobs gauge\n")
	for _, kv := range []struct {
		status string
		n      int
	}{{"queued", c.Pending}, {"processing", c.Processing}, {"completed", c.Completed}, {"failed", c.Failed}, {"rejected", c.Rejected}} {
		fmt.Fprintf(w, "cyberimage_jobs{status=%q} %d\n", kv.status, kv.n)
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if q, err := s.consumerState(ctx); err == nil {
		fmt.Fprintf(w, "# TYPE cyberimage_queue_pending gauge\ncyberimage_queue_pending %d\n", q.Pending)
		fmt.Fprintf(w, "# TYPE cyberimage_queue_in_progress gauge\ncyberimage_queue_in_progress %d\n", q.InProgress)
		fmt.Fprintf(w, "# TYPE cyberimage_queue_redelivered gauge\ncyberimage_queue_redelivered %d\n", q.Redelivered)
		fmt.Fprintf(w, "# TYPE cyberimage_queue_dead gauge\ncyberimage_queue_dead %d\n", q.Dead)
	}
	fmt.Fprintf(w, "# TYPE cyberimage_recoveries_total counter\n")
	for kind, n := range s.p.Recoveries.Counts() {
		fmt.Fprintf(w, "cyberimage_recoveries_total{kind=%q} %d\n", kind, n)
	}
	healthy := 0
	runners := s.p.Tracker.Runners()
	for _, r := range runners {
		if r.Health == "healthy" {
			healthy++
		}
	}
	fmt.Fprintf(w, "# TYPE cyberimage_runners gauge\ncyberimage_runners{health=\"healthy\"} %d\ncyberimage_runners{health=\"lost\"} %d\n", healthy, len(runners)-healthy)
	fmt.Fprintf(w, "# HELP cyberimage_index_rewatches_total Times the watch of the job records was made again after it ended or went blind.\n")
	fmt.Fprintf(w, "# TYPE cyberimage_index_rewatches_total counter\ncyberimage_index_rewatches_total %d\n", s.p.Index.Rewatches())
	if s.p.Reconnects != nil {
		fmt.Fprintf(w, "# HELP cyberimage_nats_reconnects_total Times the NATS connection was made again after it was lost.\n")
		fmt.Fprintf(w, "# TYPE cyberimage_nats_reconnects_total counter\ncyberimage_nats_reconnects_total %d\n", s.p.Reconnects())
	}
	if s.p.Drops != nil {
		fmt.Fprintf(w, "# HELP cyberimage_bus_dropped_total Messages taken off the bus and dropped: malformed, not believed, or whose handler panicked.\n")
		fmt.Fprintf(w, "# TYPE cyberimage_bus_dropped_total counter\n")
		for _, d := range s.p.Drops.Counts() {
			fmt.Fprintf(w, "cyberimage_bus_dropped_total{kind=%q} %d\n", d.Kind, d.Count)
		}
	}
}
