package quota

import "cyberimage/shared/config"

// Bind binds CYBERIMAGE_QUOTAS; Check on the result parses it. Ingest
// enforces the limits and the supervisor only shows them beside each
// client's use; both bind this one definition, so the operator's one value
// reads the same in each.
func Bind(l *config.Loader) *config.Parsed[Table] {
	return config.BindParsed(l, "quotas", "per-client limits, 'client=max_queued/per_minute' entries with * for every other client, 0 or empty for no limit, e.g. '*=100/60 alice=1000/600' (empty: no limits); ingest enforces them, the supervisor shows them (GET /v1/clients, the console): give both the same value", Parse)
}
