package benchstack

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Context is a bench run's context: cancelled by Ctrl-C or SIGTERM (the
// deferred cleanup then stops every child), and at the deadline.
func Context(deadline time.Duration) (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(ctx, deadline)
	return ctx, func() { cancel(); stop() }
}

// Progress prints a line of progress on stderr, with the seconds since
// began: stdout holds only the report.
func Progress(began time.Time) func(format string, args ...any) {
	return func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "[%6.1fs] %s\n", time.Since(began).Seconds(), fmt.Sprintf(format, args...))
	}
}

// QuickDefaults gives each integer flag named in values its -quick value,
// unless the command line set it: explicit flags still win.
func QuickDefaults(flags map[string]*int, values map[string]int) {
	set := setFlags(flag.CommandLine)
	for name, p := range flags {
		if !set[name] {
			*p = values[name]
		}
	}
}

// QuickFlags is QuickDefaults for flags of any kind: each flag named in
// values not set on the command line is set to its value, spelt as on a
// command line ("50", "20s"). The values are the bench's own constants,
// so one that does not parse is a bug and panics.
func QuickFlags(values map[string]string) { quickFlags(flag.CommandLine, values) }

func quickFlags(fs *flag.FlagSet, values map[string]string) {
	set := setFlags(fs)
	for name, v := range values {
		if set[name] {
			continue
		}
		if err := fs.Set(name, v); err != nil {
			panic(fmt.Sprintf("benchstack: -quick default: %v", err))
		}
	}
}

// setFlags is the flags the command line set.
func setFlags(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// TempDir makes a scratch folder named prefix followed by random
// characters. Its cleanup removes it, except with keep, when say names it
// instead, so what the run left there can be read after it.
func TempDir(prefix string, keep bool, say func(format string, args ...any)) (dir string, cleanup func(), err error) {
	dir, err = os.MkdirTemp("", prefix)
	if err != nil {
		return "", nil, err
	}
	if keep {
		say("keeping %s", dir)
		return dir, func() {}, nil
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}
