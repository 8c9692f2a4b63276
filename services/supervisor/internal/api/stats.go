package api

import (
	"errors"
	"net/http"

	"cyberimage/services/supervisor/internal/index"
	"cyberimage/services/supervisor/internal/stats"
)

// statsReply is a window of the supervisor's figures; with a model, also
// that model's counts by status now.
type statsReply struct {
	stats.Series
	Counts *index.Counts `json:"counts,omitempty"`
}

// windowOf reads ?window= (1h when absent).
func windowOf(r *http.Request) string {
	if w := r.URL.Query().Get("window"); w != "" {
		return w
	}
	return "1h"
}

// stats serves GET /v1/stats?window=1h|24h&model=: jobs ended per step,
// latency percentiles and queue depth, for the console's charts.
func (s *Server) stats(w http.ResponseWriter, r *http.Request) {
	if s.p.Stats == nil {
		writeError(w, http.StatusNotFound, "this supervisor keeps no figures over time")
		return
	}
	model := r.URL.Query().Get("model")
	series, err := s.p.Stats.Series(windowOf(r), model)
	if errors.Is(err, stats.ErrWindow) {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	out := statsReply{Series: series}
	if model != "" {
		c := s.p.Index.ByModel()[model]
		out.Counts = &c
	}
	writeJSON(w, http.StatusOK, out)
}
