// Package config binds each setting to a flag and a CYBERIMAGE_* environment
// variable. Precedence: flag, then environment, then default. It is the only
// place that reads the environment.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// ErrHelp is returned by Parse when --help was asked for; main exits 0.
var ErrHelp = flag.ErrHelp

// Loader collects settings of one program.
type Loader struct {
	fs     *flag.FlagSet
	lookup func(string) (string, bool)
	errs   []error
	dev    *bool
}

// NewLoader makes a loader for the named program reading the real
// environment; help goes to out.
func NewLoader(program string, out io.Writer) *Loader {
	return NewLoaderWithEnv(program, out, os.LookupEnv)
}

// NewLoaderWithEnv is NewLoader with an injected environment, for tests.
func NewLoaderWithEnv(program string, out io.Writer, lookup func(string) (string, bool)) *Loader {
	fs := flag.NewFlagSet(program, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage of %s (every flag can also be set by the environment variable shown):\n", program)
		fs.PrintDefaults()
	}
	return &Loader{fs: fs, lookup: lookup}
}

// EnvName is the environment variable for a flag: "ack-wait" → CYBERIMAGE_ACK_WAIT.
func EnvName(flagName string) string {
	return "CYBERIMAGE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func (l *Loader) env(name string) (string, bool) {
	v, ok := l.lookup(EnvName(name))
	return v, ok && v != ""
}

func (l *Loader) usage(name, usage string) string {
	return fmt.Sprintf("%s [%s]", usage, EnvName(name))
}

func (l *Loader) bad(name, value string, err error) {
	l.errs = append(l.errs, fmt.Errorf("%s=%q: %w", EnvName(name), value, err))
}

// Name is the environment variable of a flag, for messages.
func (l *Loader) Name(flagName string) string { return EnvName(flagName) }

// String binds a string setting.
func (l *Loader) String(p *string, name, def, usage string) {
	if v, ok := l.env(name); ok {
		def = v
	}
	l.fs.StringVar(p, name, def, l.usage(name, usage))
}

// secret is a flag.Value that never shows its value: --help prints no
// default for it, and formatting the flag set reveals nothing.
type secret struct{ p *string }

func (s secret) String() string {
	return ""
}

func (s secret) Set(v string) error { *s.p = v; return nil }

// Secret binds a string setting that must never be printed: its value
// (from the environment or a flag) is not shown by --help, and nothing
// else in this package formats it. Prefer the environment or a file for
// secrets; a flag's value shows in the process list.
func (l *Loader) Secret(p *string, name, usage string) {
	if v, ok := l.env(name); ok {
		*p = v
	}
	l.fs.Var(secret{p}, name, l.usage(name, usage+" (secret: never printed)"))
}

// Dev binds CYBERIMAGE_DEV, which lets settings fall back to the dev
// stack's built-in credentials; outside it a missing credential stops the
// service. It may be called by several packages of one program.
func (l *Loader) Dev() *bool {
	if l.dev == nil {
		l.dev = new(bool)
		l.Bool(l.dev, "dev", false, "the dev stack (make run, tests): credentials left unset take the stack's built-in dev values; never in production")
	}
	return l.dev
}

// Int binds an integer setting.
func (l *Loader) Int(p *int, name string, def int, usage string) {
	l.fs.IntVar(p, name, envOr(l, name, def, strconv.Atoi, "not an integer"), l.usage(name, usage))
}

// Bool binds a boolean setting.
func (l *Loader) Bool(p *bool, name string, def bool, usage string) {
	l.fs.BoolVar(p, name, envOr(l, name, def, strconv.ParseBool, "not a boolean"), l.usage(name, usage))
}

// Duration binds a duration setting written as a Go duration ("15m", "30s").
func (l *Loader) Duration(p *time.Duration, name string, def time.Duration, usage string) {
	l.fs.DurationVar(p, name, envOr(l, name, def, time.ParseDuration, `not a duration such as "30s" or "15m"`), l.usage(name, usage))
}

// envOr is the default a flag gets: the environment's value parsed, or def
// when the variable is unset. A value that does not parse is reported as
// not what it should be (want) and def is kept, so Parse can list every
// bad setting of one run together.
func envOr[T any](l *Loader, name string, def T, parse func(string) (T, error), want string) T {
	v, ok := l.env(name)
	if !ok {
		return def
	}
	x, err := parse(v)
	if err != nil {
		l.bad(name, v, errors.New(want))
		return def
	}
	return x
}

// Parse reads the flags. Bad environment values and bad flags are reported
// together so one run shows every mistake.
func (l *Loader) Parse(args []string) error {
	if err := l.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ErrHelp
		}
		l.errs = append(l.errs, err)
	}
	if l.fs.NArg() > 0 {
		l.errs = append(l.errs, fmt.Errorf("unexpected arguments: %v", l.fs.Args()))
	}
	return errors.Join(l.errs...)
}

// Check records a validation failure of a parsed value, reported by Err.
func (l *Loader) Check(ok bool, format string, args ...any) {
	if !ok {
		l.errs = append(l.errs, fmt.Errorf(format, args...))
	}
}

// Err returns every problem found by Parse and Check.
func (l *Loader) Err() error { return errors.Join(l.errs...) }
