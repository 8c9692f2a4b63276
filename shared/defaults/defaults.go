// Package defaults fills the parameters a caller left unset.
package defaults

// Positive is v, or def when v is zero or negative: the rule of every
// count, size and interval in a component's parameters, where zero means
// "not set" and a negative value has no meaning.
func Positive[T ~int | ~int64 | ~float64](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}
