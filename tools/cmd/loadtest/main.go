// Command loadtest checks a running CyberImage stack from the outside, the
// way the original app's test_watchdog.py meant to: a load of jobs that
// must each complete exactly once, a job that hangs its runner and must be
// recovered by the supervisor, and requests that are invalid or repeated
// while jobs run. It only talks to NATS and the supervisor's HTTP API, and
// ends with a table of checks; `loadtest --help` explains each test.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

// run returns the exit status: 0 every check passed, 1 a check failed, 2
// bad flags.
func run(args []string) int {
	opts, err := parseOptions(args, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		if !errors.Is(err, errReported) {
			fmt.Fprintf(os.Stderr, "loadtest: %v (see loadtest --help)\n", err)
		}
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	rep := newReport(os.Stdout)
	h, err := connect(ctx, opts, rep)
	if err != nil {
		rep.check("connect", false, "%v", err)
		rep.summary()
		return 1
	}
	defer h.close()
	rep.progress("start", "run %s: tests %v, %d jobs each, --timeout %s per test, NATS %s, supervisor %s",
		h.run, opts.tests, opts.jobs, opts.timeout, opts.natsURL, opts.supervisor)
	for _, name := range opts.tests {
		if ctx.Err() != nil {
			rep.check(name+": interrupted", false, "stopped before it started")
			continue
		}
		h.runTest(ctx, name)
	}
	rep.summary()
	if rep.failed() {
		return 1
	}
	return 0
}
