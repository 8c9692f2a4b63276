// Command benchfleet finds where the control plane breaks: an emulated
// fleet of N runners × 2 slots on this machine against the real control
// plane (the three-node nats-server cluster, MinIO, ingest and two
// supervisors, each with its own role's credentials), in steps of N.
//
//	go run ./tools/cmd/benchfleet                      # N = 50, 200, 500, 1000
//	go run ./tools/cmd/benchfleet -quick               # N = 50, short windows
//	go run ./tools/cmd/benchfleet -runners 50,200 -put=false
//
// Each emulated runner (many per emulator process, each with its own NATS
// connection and credentials in its name) speaks the real runner
// protocol from the shared packages: a pull per free slot, a claim by
// compare-and-set (job.Claim), a prefetch while running, in-progress acks
// every AckWait/3 each after an ownership read, step events by the
// runner's coalescing rule, heartbeats naming the jobs held, orders on its
// control subject, a PUT of a tiny image per image (-put=false: none),
// fenced completion (job.Complete) and the ack. The model is a sleep
// through the job's steps: 5-60 s, mostly about 10 s, some long
// multi-image jobs. Jobs are fed through ingest at the rate that keeps
// -load of the slots busy.
//
// Per step, after a warm-up, it measures for a fixed window: CPU and RSS
// of every process (supervisor leader and follower, each NATS node,
// ingest, MinIO, the emulators, the harness) from /proc; messages a second
// by kind (what the runners send, what each supervisor is delivered, each
// node's in and out); index lag (a completion's KV write until the
// supervisor's counts include it); publish → claim; claim → first event
// on /v1/events; the watchdog's CPU per pass (perf, when present);
// heartbeats handled a second; and says what saturated first. Then it
// estimates a 10,000-GPU fleet from the per-runner and per-job costs.
// Progress goes to stderr, the report to stdout; the fleet targets are
// printed, never asserted. `make bench-fleet` runs it.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"cyberimage/tools/internal/benchstack"
)

type options struct {
	benchstack.RunFlags
	runners       []int
	slots         int
	load          float64
	steps         int
	put           bool
	warmup        time.Duration
	window        time.Duration
	checkInterval time.Duration
	maxAckPending int
	perf          bool
	keepGoing     bool
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "emulate" {
		if err := emulate(os.Args[2:]); err != nil {
			fmt.Fprintf(os.Stderr, "benchfleet emulate: %v\n", err)
			os.Exit(1)
		}
		return
	}
	var o options
	o.RunFlags = benchstack.RunFlags{Out: "bench-out/fleet", Deadline: 40 * time.Minute}
	o.Register("ingest and supervisor", "the processes' logs", "50 runners, 20 s warm-up, 30 s window")
	runners := flag.String("runners", "50,200,500,1000", "fleet sizes to step through, in runners (each step adds runners to the last)")
	flag.IntVar(&o.slots, "slots", 2, "slots per runner")
	flag.Float64Var(&o.load, "load", 0.7, "share of the slots kept busy by the steady feed")
	flag.IntVar(&o.steps, "steps", 50, "steps per job (step events: up to one per 100 ms per job, after coalescing)")
	flag.BoolVar(&o.put, "put", true, "PUT a tiny image to S3 per image (false: the control plane alone)")
	flag.DurationVar(&o.warmup, "warmup", 45*time.Second, "each step's warm-up after its runners are up and the feed is raised")
	flag.DurationVar(&o.window, "window", 90*time.Second, "each step's measured window")
	flag.DurationVar(&o.checkInterval, "check-interval", 30*time.Second, "the supervisors' watchdog interval (their default: 30s)")
	flag.IntVar(&o.maxAckPending, "max-ack-pending", 0, "the runners' consumer's MaxAckPending (0: twice the largest step's slots, at least the default 8192)")
	flag.BoolVar(&o.perf, "perf", true, "profile the leader with perf (when installed) to time the watchdog's passes")
	flag.BoolVar(&o.keepGoing, "keep-going", false, "take the next step even when this machine saturated in the last")
	flag.Parse()
	o.Quicken(map[string]string{"runners": "50", "warmup": "20s", "window": "30s"})
	var err error
	if o.runners, err = benchstack.RisingCounts(*runners); err != nil || o.slots < 1 || o.load <= 0 || o.load > 1 || o.steps < 1 || o.steps > 50 ||
		o.warmup < 0 || o.window < 10*time.Second {
		fmt.Fprintln(os.Stderr, "benchfleet: -runners a rising list of counts (50,200,...), -slots at least 1, -load in (0, 1], -steps 1-50, -window at least 10s")
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintf(os.Stderr, "benchfleet: %v\n", err)
		os.Exit(1)
	}
}
