package api

import (
	"net/http"
	"sort"

	"cyberimage/shared/models"
)

type modelView struct {
	Name        string   `json:"name"`
	Pipeline    string   `json:"pipeline,omitempty"`
	Description string   `json:"description,omitempty"`
	Steps       any      `json:"steps,omitempty"`
	Guidance    any      `json:"guidance,omitempty"`
	Default     bool     `json:"default"`
	Configured  bool     `json:"configured"`
	Runners     []string `json:"runners"`
}

// models lists the configured models, the default, and which live runners
// serve each (from their heartbeats). A model a runner announces but the
// supervisor's catalog lacks is listed too, marked not configured.
func (s *Server) models(w http.ResponseWriter, _ *http.Request) {
	byName := map[string]*modelView{}
	var def string
	if s.p.Catalog != nil {
		def = s.p.Catalog.Default()
		for _, name := range s.p.Catalog.Names() {
			m, _ := s.p.Catalog.Manifest(name)
			byName[name] = viewOf(m, name == def)
		}
	}
	for _, r := range s.p.Tracker.Runners() {
		if r.Health != "healthy" {
			continue
		}
		for _, name := range r.Models {
			v, ok := byName[name]
			if !ok {
				v = &modelView{Name: name}
				byName[name] = v
			}
			v.Runners = append(v.Runners, r.Runner)
		}
	}
	list := make([]*modelView, 0, len(byName))
	for _, v := range byName {
		sort.Strings(v.Runners)
		list = append(list, v)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	writeJSON(w, http.StatusOK, map[string]any{"default": def, "models": list})
}

func viewOf(m models.Manifest, isDefault bool) *modelView {
	return &modelView{Name: m.Name, Pipeline: m.Pipeline, Description: m.Description, Steps: m.Steps,
		Guidance: m.Guidance, Default: isDefault, Configured: true, Runners: []string{}}
}
