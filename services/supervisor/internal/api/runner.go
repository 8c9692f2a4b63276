package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"cyberimage/services/supervisor/internal/recoveries"
	"cyberimage/services/supervisor/internal/stats"
	"cyberimage/services/supervisor/internal/tracker"
)

// runnerPage is one runner: its latest heartbeat with the watchdog's
// judgement, what it runs now, its recent jobs and recoveries, what the
// watchdog remembers of it (stalls, reloads), and its load and GPU
// telemetry over the window.
type runnerPage struct {
	Runner string `json:"runner"`
	// Heartbeat is nil when the runner was not heard from lately.
	Heartbeat  *tracker.Runner       `json:"heartbeat,omitempty"`
	Running    []runningJob          `json:"running"`
	RecentJobs []stats.RecentJob     `json:"recent_jobs"`
	Recoveries []recoveries.Recovery `json:"recoveries"`
	History    *runnerHistory        `json:"history,omitempty"`
	Series     *stats.RunnerSeries   `json:"series,omitempty"`
}

type runningJob struct {
	JobID      string     `json:"job_id"`
	Model      string     `json:"model"`
	Attempt    int        `json:"attempt"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	Step       int        `json:"step"`
	TotalSteps int        `json:"total_steps"`
}

// runnerHistory is the watchdog's memory of a runner (KV, shared by every
// replica).
type runnerHistory struct {
	Stalls        []time.Time `json:"stalls"`
	LastEmergency *time.Time  `json:"last_emergency,omitempty"`
	ReloadOrder   string      `json:"reload_order,omitempty"`
}

// runner serves GET /v1/runners/{runner}?window=1h|24h.
func (s *Server) runner(w http.ResponseWriter, r *http.Request) {
	name, ok := pathName(w, r, "runner")
	if !ok {
		return
	}
	page := runnerPage{Runner: name, Running: []runningJob{}, RecentJobs: []stats.RecentJob{}, Recoveries: []recoveries.Recovery{}}
	known := false
	for _, rn := range s.runners() {
		if rn.Runner == name {
			page.Heartbeat, known = &rn, true
			break
		}
	}
	for _, e := range s.p.Index.Processing() {
		if e.Runner != name {
			continue
		}
		j := runningJob{JobID: e.JobID, Model: e.Model, Attempt: e.Attempts, StartedAt: e.StartedAt}
		if p, ok := s.p.Tracker.Progress(e.JobID); ok {
			j.Step, j.TotalSteps = p.Step, p.TotalSteps
		}
		page.Running = append(page.Running, j)
		known = true
	}
	for _, rec := range s.p.Recoveries.Recent() {
		if rec.Runner == name {
			page.Recoveries = append(page.Recoveries, rec)
			known = true
		}
	}
	if s.p.Stats != nil {
		series, ok, err := s.p.Stats.RunnerSeries(name, windowOf(r))
		if errors.Is(err, stats.ErrWindow) {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		if ok {
			page.RecentJobs, page.Series = series.Recent, &series
			known = true
		}
	}
	if s.p.RunnerHistory != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		h, err := s.p.RunnerHistory(ctx, name)
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, "runner history: "+err.Error())
			return
		}
		if len(h.Stalls) > 0 || !h.LastEmergency.IsZero() || h.ReloadOrder != "" {
			page.History = &runnerHistory{Stalls: h.Stalls, ReloadOrder: h.ReloadOrder}
			if !h.LastEmergency.IsZero() {
				page.History.LastEmergency = &h.LastEmergency
			}
			known = true
		}
	}
	if !known {
		writeError(w, http.StatusNotFound, "no runner "+name+" heard of")
		return
	}
	writeJSON(w, http.StatusOK, page)
}
