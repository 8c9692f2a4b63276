package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"cyberimage/shared/bus"
	"cyberimage/tools/internal/supervisorurl"
)

// Tests, in the order --test all runs them.
var testOrder = []string{"load", "stall", "chaos"}

// maxJobs bounds --jobs: the load test is for a dev stack, not a benchmark
// farm, and every job is tracked in memory.
const maxJobs = 10000

type options struct {
	tests      []string
	jobs       int
	natsURL    string
	natsCreds  string
	supervisor string
	timeout    time.Duration
	hangMarker string
}

const usageText = `loadtest runs the original app's watchdog test against a running stack
(as "make run" starts it), talking only to NATS and the supervisor's HTTP API.

  loadtest --test stall|load|chaos|all --jobs N [flags]

Tests:
  load   publish N requests (core publish, unique request_id per run, mixed small
         sizes) and check every job completes exactly once with all its images,
         the work queue drains and the supervisor counts them; reports
         throughput, latency p50/p95/p99 and jobs that needed more than one try.
  stall  publish a job whose prompt contains the hang marker (one per runner
         slot, so every idle runner pulls one, up to 3 rounds) and check it
         ends completed after a supervisor recovery, or failed with a reason
         when every runner hangs; reports detection and recovery times. Needs a
         runner started with CYBERIMAGE_FAULT_HANG_PROMPT=<marker> and a
         supervisor whose CYBERIMAGE_MAX_STALLED_TIME fits well inside --timeout.
  chaos  like load, and while the jobs run it sends invalid requests (expecting
         the documented error codes), duplicates of request_ids (same and changed
         bodies, and invalid ones) and a rejected request corrected under the
         same request_id; checks nothing is lost or doubled. It cannot kill
         processes of a stack it did not start: the process kills, NATS restart
         and S3 outage of the real chaos test live in tools/e2e (TestChaos).
  all    load, stall and chaos in that order.

The checks assume the stack is otherwise quiet: the JOBS stream must drain to 0.
Exit status: 0 every check passed, 1 a check failed, 2 bad flags.

Flags:
`

// errReported is a usage error already printed.
var errReported = errors.New("usage error reported")

// parseOptions reads the command line; errors are usage errors (exit 2).
func parseOptions(args []string, stderr io.Writer) (options, error) {
	var o options
	var test string
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageText)
		fs.PrintDefaults()
	}
	fs.StringVar(&test, "test", "", "which test: stall, load, chaos or all (required)")
	fs.IntVar(&o.jobs, "jobs", 20, fmt.Sprintf("jobs per load and chaos test (1-%d)", maxJobs))
	fs.StringVar(&o.natsURL, "nats", bus.DefaultURL, "NATS server URL")
	fs.StringVar(&o.natsCreds, "creds", os.Getenv("CYBERIMAGE_NATS_CREDS"), "NATS credentials file (it watches job records: an admin's; make run writes .data/creds/admin.creds)")
	fs.StringVar(&o.supervisor, "supervisor", "http://127.0.0.1:8080", "supervisor base URL")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Minute, "how long each test may wait for its jobs")
	fs.StringVar(&o.hangMarker, "hang-marker", "HANG", "prompt text on which a fault-injecting runner hangs (CYBERIMAGE_FAULT_HANG_PROMPT)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, errReported // the flag package printed it, with the usage
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	switch test {
	case "all":
		o.tests = testOrder
	case "load", "stall", "chaos":
		o.tests = []string{test}
	case "":
		return o, errors.New("--test is required: stall, load, chaos or all")
	default:
		return o, fmt.Errorf("--test %q: want stall, load, chaos or all", test)
	}
	if o.jobs < 1 || o.jobs > maxJobs {
		return o, fmt.Errorf("--jobs %d: want 1 to %d", o.jobs, maxJobs)
	}
	if o.timeout <= 0 || o.timeout > 24*time.Hour {
		return o, fmt.Errorf("--timeout %s: want more than 0 and at most 24h", o.timeout)
	}
	if o.natsURL == "" {
		return o, errors.New("--nats must not be empty")
	}
	base, err := supervisorurl.Parse(o.supervisor)
	if err != nil {
		return o, err
	}
	o.supervisor = base
	if strings.TrimSpace(o.hangMarker) == "" {
		return o, errors.New("--hang-marker must not be empty")
	}
	// A marker found in the ordinary prompts would hang the load jobs.
	for _, kind := range []string{"load", "chaos"} {
		for i := range o.jobs {
			if p := ordinaryPrompt(kind, i); strings.Contains(p, o.hangMarker) {
				return o, fmt.Errorf("--hang-marker %q occurs in the ordinary prompt %q; pick another marker", o.hangMarker, p)
			}
		}
	}
	return o, nil
}
