package api

import (
	"net/http"
	"sort"
	"time"

	"cyberimage/services/supervisor/internal/index"
	"cyberimage/shared/quota"
)

// clientUse is one client's row of GET /v1/clients: its use now, from
// the index, beside the limits CYBERIMAGE_QUOTAS sets on it.
type clientUse struct {
	Client             string       `json:"client"`
	Queued             int          `json:"queued"`
	Running            int          `json:"running"`
	AcceptedLastMinute int          `json:"accepted_last_minute"`
	Limits             quota.Limits `json:"limits"`
}

type clientList struct {
	Clients       []clientUse  `json:"clients"`
	DefaultLimits quota.Limits `json:"default_limits"`
}

// clients serves GET /v1/clients: every client with a job in flight or
// one accepted in the last minute, and every client the quotas name,
// sorted by name.
func (s *Server) clients(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, clientList{Clients: s.clientUses(s.p.Now()), DefaultLimits: s.p.Quotas.Default})
}

// clientUses joins the index's figures with the quotas' names.
func (s *Server) clientUses(now time.Time) []clientUse {
	figures := s.p.Index.Clients(now)
	for name := range s.p.Quotas.Clients {
		if _, ok := figures[name]; !ok {
			figures[name] = index.ClientFigures{}
		}
	}
	out := make([]clientUse, 0, len(figures))
	for name, f := range figures {
		out = append(out, clientUse{Client: name, Queued: f.Queued, Running: f.Running,
			AcceptedLastMinute: f.AcceptedLastMinute, Limits: s.p.Quotas.For(name)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Client < out[j].Client })
	return out
}
