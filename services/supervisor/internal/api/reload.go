package api

import (
	"context"
	"net/http"
	"time"

	"go.uber.org/zap"

	"cyberimage/services/supervisor/internal/recoveries"
)

// reload serves POST /v1/runners/{runner}/reload: a live runner is ordered
// to drop and reload its model sessions (the original app's "restart the
// generator"), without touching other runners or jobs queued elsewhere.
func (s *Server) reload(w http.ResponseWriter, r *http.Request) {
	runner := r.PathValue("runner")
	if s.p.Reload == nil {
		writeError(w, http.StatusNotImplemented, "reload orders are off")
		return
	}
	if _, alive := s.p.Tracker.Heartbeat(runner); !alive {
		writeError(w, http.StatusNotFound, "no live runner "+runner)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	id, err := s.p.Reload(ctx, runner)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	s.p.Recoveries.Add(recoveries.Recovery{At: time.Now().UTC(), Kind: recoveries.KindReload, Runner: runner, Reason: "operator request"})
	s.log.Info("model reload ordered by an operator", zap.String("runner", runner), zap.String("order", id))
	writeJSON(w, http.StatusAccepted, map[string]string{"runner": runner, "order": id})
}
