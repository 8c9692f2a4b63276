package config

// Parsed is a setting written as text that a parser of its own reads (a
// quota table, a host list): bound like a string, parsed by Check after
// Parse, so a bad value is reported with the others of that run.
type Parsed[T any] struct {
	// Value is the setting parsed, set by Check.
	Value T
	text  string
	name  string
	parse func(string) (T, error)
}

// BindParsed binds the text setting name, which Check on the result parses
// with parse; empty text is parse("").
func BindParsed[T any](l *Loader, name, usage string, parse func(string) (T, error)) *Parsed[T] {
	p := &Parsed[T]{name: name, parse: parse}
	l.String(&p.text, name, "", usage)
	return p
}

// Check parses the setting into Value; a bad one is reported to l under the
// variable's name.
func (p *Parsed[T]) Check(l *Loader) {
	var err error
	p.Value, err = p.parse(p.text)
	l.Check(err == nil, "%s: %v", EnvName(p.name), err)
}
