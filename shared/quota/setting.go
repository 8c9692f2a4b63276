package quota

import "cyberimage/shared/config"

// Bind binds CYBERIMAGE_QUOTAS; Check on the result parses it. Ingest
// enforces the limits and the supervisor only shows them beside each
// client's use; both bind this one definition, so the operator's one value
// reads the same in each. usage is the caller's --help text: each service
// says what the limits mean to it.
func Bind(l *config.Loader, usage string) *config.Parsed[Table] {
	return config.BindParsed(l, "quotas", usage, Parse)
}
