package quota

import "cyberimage/shared/config"

// Setting is CYBERIMAGE_QUOTAS. Ingest enforces the limits and the
// supervisor only shows them beside each client's use; both bind this one
// definition, so the operator's one value reads the same in each.
type Setting struct {
	// Table is the limits, parsed by Check.
	Table Table
	text  string
}

// Bind binds CYBERIMAGE_QUOTAS.
func (s *Setting) Bind(l *config.Loader) {
	l.String(&s.text, "quotas", "", "per-client limits, 'client=max_queued/per_minute' entries with * for every other client, 0 or empty for no limit, e.g. '*=100/60 alice=1000/600' (empty: no limits); ingest enforces them, the supervisor shows them (GET /v1/clients, the console): give both the same value")
}

// Check parses the setting into Table; a bad one is reported to l.
func (s *Setting) Check(l *config.Loader) {
	var err error
	s.Table, err = Parse(s.text)
	l.Check(err == nil, "CYBERIMAGE_QUOTAS: %v", err)
}
