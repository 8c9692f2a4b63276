// Command benchscale measures what the supervisor costs as history grows:
// it writes job records in the pipeline's own shape into the record bucket
// (N = 10k, 100k, 1M by default, cumulatively), and at each N starts a
// supervisor and measures its resident memory, the time from start to
// ready, and the latency of /api/queue and /status, beside the same at
// N = 0. `make bench-scale` runs it. It prints figures and the issue's
// targets; it never fails on a missed target (this machine is shared). As
// in a deployment, each party connects with its own role's credentials:
// the records are written as ingest, the supervisor runs as itself, and
// only provisioning uses admin's.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"cyberimage/shared/job"
	"cyberimage/shared/models"
	"cyberimage/shared/natsauth"
	"cyberimage/tools/internal/benchstack"
)

type options struct {
	sizes   []int
	queries int
	keep    bool
}

func main() {
	var o options
	var sizes string
	flag.StringVar(&sizes, "n", "10000,100000,1000000", "record counts to measure at, ascending (records are added, not rewritten)")
	flag.IntVar(&o.queries, "queries", 200, "requests per endpoint at each size")
	flag.BoolVar(&o.keep, "keep", false, "keep the temp folder (NATS store, logs)")
	flag.Parse()
	var err error
	if o.sizes, err = benchstack.RisingCounts(sizes); err != nil {
		fmt.Fprintf(os.Stderr, "benchscale: -n wants ascending positive counts, got %q\n", sizes)
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintf(os.Stderr, "benchscale: %v\n", err)
		os.Exit(1)
	}
}

func run(o options) error {
	ctx, r, tmp, stop, err := benchstack.BeginIn(2*time.Hour, "benchscale-", o.keep)
	if err != nil {
		return err
	}
	defer stop()
	say, root := r.Say, r.Root
	modelsDir := filepath.Join(root, "infra", "models")
	catalog, err := models.Load(modelsDir, "")
	if err != nil {
		return err
	}
	// Provisioned as make run does: the supervisor checks every model's
	// consumer before it starts.
	env, err := startBus(ctx, tmp, catalog.Names())
	if err != nil {
		return err
	}
	defer env.close()
	say("building the supervisor")
	bins, err := benchstack.Build(ctx, root, tmp, map[string]string{"supervisor": benchstack.ServicePackages["supervisor"]})
	if err != nil {
		return err
	}
	procs := benchstack.NewProcs(root, tmp)
	defer procs.StopAll()
	// The supervisor connects as itself, never as admin: its role's
	// rights are part of what it costs.
	sup := supervisorRun{procs: procs, bin: bins["supervisor"], natsURL: env.nats.URL(),
		creds: env.creds.Path(natsauth.Supervisor), modelsDir: modelsDir, queries: o.queries}

	var rows []row
	measure := func(n int) error {
		r, err := sup.measure(ctx, n)
		if err != nil {
			return fmt.Errorf("at N = %d: %w", n, err)
		}
		say("N = %d: first start caught up in %.2f s (peak RSS %.1f MB); restart: RSS %.1f MB, ready in %.2f s, /api/queue p50 %.2f ms, /status p50 %.2f ms",
			n, r.catchUp.Seconds(), r.catchUpPeak, r.rssMB, r.ready.Seconds(), job.Millis(r.queue.p50), job.Millis(r.status.p50))
		rows = append(rows, r)
		return nil
	}
	if err := measure(0); err != nil {
		return err
	}
	written := 0
	for _, n := range o.sizes {
		say("writing records %d..%d as ingest", written, n)
		start := time.Now()
		if err := env.writeRecords(ctx, written, n); err != nil {
			return err
		}
		say("wrote %d records in %.1f s (%d bytes each)", n-written, time.Since(start).Seconds(), env.recordBytes)
		written = n
		if err := measure(n); err != nil {
			return err
		}
	}
	report(os.Stdout, rows, env.recordBytes, o)
	return nil
}
