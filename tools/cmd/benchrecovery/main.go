// Command benchrecovery measures how fast the pipeline recovers from the
// faults it promises to survive, under steady load, on real processes: a
// three-node nats-server cluster at R3, MinIO, and the ingest, supervisor
// and gpu-runner binaries, each with its own NATS credentials.
//
//	go run ./tools/cmd/benchrecovery          # 20 runner kills, 5 runner freezes, 3 NATS node freezes
//	go run ./tools/cmd/benchrecovery -quick   # smoke run: 3, 1 and 1
//
// The faults come one at a time in a shuffled order, each at a random
// moment: a runner holding a job is killed -9 (and comes back under the
// same name, as a process manager would bring it), a runner holding a job
// is frozen with SIGSTOP for longer than the supervisor's lost threshold,
// or the NATS node leading the job records' bucket is frozen. From the
// record bucket's history (a KV watch started before the first job) it
// reports, per fault kind, the time from the fault to the held job running
// again elsewhere, lost and twice-completed jobs, and the longest pause in
// completions, beside the targets. `make bench-recovery` runs it.
// Progress goes to stderr, the report to stdout; a missed target is
// printed, never an exit status: this is a benchmark, not a test.
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
	kills, freezes, natsFreezes int
	runners                     int
	size, steps, images         int
	load                        float64 // steady load, as a fraction of the fleet's measured capacity
	freezeFor, natsFreezeFor    time.Duration
	gapMin, gapMax              time.Duration
	restartAtOnce               bool
	seed                        uint64
}

func main() {
	var o options
	o.RunFlags = benchstack.RunFlags{Out: "bench-out/recovery", Deadline: 25 * time.Minute}
	o.Register("ingest, gpu-runner and supervisor", "the processes' logs", "3 kills, 1 runner freeze, 1 NATS freeze")
	flag.IntVar(&o.kills, "kills", 20, "runners killed -9 while holding a job")
	flag.IntVar(&o.freezes, "freezes", 5, "runners frozen (SIGSTOP) past the lost threshold while holding a job")
	flag.IntVar(&o.natsFreezes, "nats-freezes", 3, "NATS nodes frozen (SIGSTOP): each time the one leading the job records' bucket")
	flag.IntVar(&o.runners, "runners", 3, "gpu-runner processes, one slot each (2 cores run them all)")
	flag.IntVar(&o.size, "size", 1024, "image width and height")
	flag.IntVar(&o.steps, "steps", 50, "steps per job (the demo model allows 1-50)")
	flag.IntVar(&o.images, "images", 2, "images per job: with -size and -steps, jobs of a few seconds, so one is always mid-run")
	flag.Float64Var(&o.load, "load", 0.7, "steady load as a fraction of the fleet's capacity, measured in the warm-up")
	flag.DurationVar(&o.freezeFor, "freeze-for", 12*time.Second, "how long a runner stays frozen (the supervisor's lost threshold is 6s)")
	flag.DurationVar(&o.natsFreezeFor, "nats-freeze-for", 20*time.Second, "how long a NATS node stays frozen (clients leave a silent node within 10s)")
	flag.DurationVar(&o.gapMin, "gap-min", 2*time.Second, "least time between one fault's recovery and the next fault")
	flag.DurationVar(&o.gapMax, "gap-max", 8*time.Second, "most time between one fault's recovery and the next fault")
	flag.BoolVar(&o.restartAtOnce, "restart-at-once", false, "restart a killed runner at once (a process manager on a live host) instead of once its job runs elsewhere (a lost host)")
	flag.Uint64Var(&o.seed, "seed", 0, "random seed for the fault order, moments and victims (0: from the clock; printed)")
	flag.Parse()
	o.Quicken(map[string]string{"kills": "3", "freezes": "1", "nats-freezes": "1"})
	if o.kills < 0 || o.freezes < 0 || o.natsFreezes < 0 || o.runners < 2 || o.steps < 1 || o.steps > 50 || o.images < 1 || o.images > 8 ||
		!benchstack.ValidSide(o.size) || o.load <= 0 || o.load > 1 || o.gapMin < 0 || o.gapMax < o.gapMin {
		fmt.Fprintln(os.Stderr, "benchrecovery: counts at least 0, -runners at least 2 (a job needs somewhere else to run), -steps 1-50, -images 1-8, -size a multiple of 8 in 64-2048, -load in (0, 1], -gap-min ≤ -gap-max")
		os.Exit(2)
	}
	if o.seed == 0 {
		o.seed = uint64(time.Now().UnixNano())
	}
	if err := run(o); err != nil {
		fmt.Fprintf(os.Stderr, "benchrecovery: %v\n", err)
		os.Exit(1)
	}
}
