package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"

	"cyberimage/shared/bus"
	"cyberimage/shared/natsauth"
	"cyberimage/tools/internal/benchstack"
	"cyberimage/tools/internal/nearestrank"
)

func run(o options) error {
	ctx, r, tmp, stop, err := benchstack.BeginIn(o.Deadline, "cyberimage-recovery-", false)
	if err != nil {
		return err
	}
	defer stop()
	began, say, root := r.Began, r.Say, r.Root
	tools, err := r.Tools(benchstack.ORTLib, benchstack.MinIOBin, benchstack.NATSServerBin)
	if err != nil {
		return err
	}
	ortLib, minioBin, natsBin := tools[0], tools[1], tools[2]
	o.Out = r.Out(o.Out)
	logDir, err := benchstack.CleanLogDir(o.Out)
	if err != nil {
		return err
	}
	ps := benchstack.NewProcs(root, logDir)
	defer ps.StopAll()
	bins, err := r.Binaries(ctx, o.BinDir, filepath.Join(tmp, "bin"), benchstack.ServicePackages)
	if err != nil {
		return err
	}
	c, err := startCluster(ctx, ps, natsBin, tmp, 3)
	if err != nil {
		return err
	}
	say("nats: three nats-server processes at %s", c.URL())
	s3, _, err := benchstack.StartMinIO(ctx, ps, minioBin, tmp)
	if err != nil {
		return err
	}
	modelsDir, err := benchstack.ModelsDir(root, tmp, []string{"demo"})
	if err != nil {
		return err
	}
	// The harness watches the records, hears heartbeats and asks which
	// node leads a stream with the supervisor's read rights. Its
	// connections ping as the services' do, so a frozen node holds them no
	// longer than it holds a service.
	settings := bus.DefaultSettings()
	settings.Replicas = len(c.Nodes)
	obs, err := c.Creds.Observe(ctx, c.URL(), "benchrecovery", settings, "demo")
	if err != nil {
		return err
	}
	defer obs.NC.Close()
	nc, js, store := obs.NC, obs.JS, obs.Store
	led, err := watchLedger(ctx, store)
	if err != nil {
		return err
	}
	defer led.watch.Stop()
	stores := benchstack.Stores{NATSURL: c.URL(), Replicas: len(c.Nodes), S3: s3, ModelsDir: modelsDir, ORTLib: ortLib}
	fl := &fleet{svc: &benchstack.Services{Procs: ps, Bins: bins, Env: stores.Env(), Creds: c.Creds}, nc: nc}
	say("services: supervisor, ingest, %d runners × 1 slot (logs in %s)", o.runners, logDir)
	if err := fl.start(ctx, o.runners); err != nil {
		return err
	}
	client, _, err := c.Creds.Connect(c.URL(), natsauth.Client, "benchrecovery-client")
	if err != nil {
		return err
	}
	defer client.Close()
	ld := &load{nc: client, run: fmt.Sprintf("recovery-%d", o.seed), size: o.size, steps: o.steps, images: o.images}

	st := setup{started: began, cores: runtime.NumCPU(), o: o}
	say("warm-up: %d jobs at once, to time a job with every runner busy", 2*o.runners)
	if st.jobTime, err = warmUp(ctx, ld, led, 2*o.runners); err != nil {
		return err
	}
	st.capacity = float64(o.runners) / st.jobTime.Seconds()
	st.rate = o.load * st.capacity
	say("a job takes %.1fs with every runner busy: capacity %.2f jobs/s; steady load %.2f jobs/s", st.jobTime.Seconds(), st.capacity, st.rate)

	stopLoad, loadDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(loadDone)
		ld.steady(ctx, stopLoad, st.rate, rand.New(rand.NewPCG(o.seed, 1)))
	}()
	steadyFrom := time.Now()
	leadIn := 30 * time.Second
	if o.Quick {
		leadIn = 15 * time.Second
	}
	sleepUntil(ctx, steadyFrom.Add(leadIn))

	in := &injector{o: o, say: say, c: c, f: fl, js: js, ledger: led, rng: rand.New(rand.NewPCG(o.seed, 2))}
	kinds := schedule(in.rng, o.kills, o.freezes, o.natsFreezes)
	in.total = len(kinds)
	say("faults: %d in a shuffled order (seed %d)", len(kinds), o.seed)
	faults, injectErr := injectAll(ctx, in, kinds)
	close(stopLoad)
	<-loadDone

	say("drain: load stopped; waiting for every accepted job to end (a job lost with a runner's prefetch waits for AckWait)")
	waitGroup(&ld.wg, 2*time.Minute)
	accepted, unanswered := ld.jobs()
	drain(ctx, led, accepted, 4*time.Minute)
	if err := led.watch.CaughtUp(ctx, 10*time.Second); err != nil {
		// Figures counted from a partial history of writes would be wrong,
		// not merely short: no report.
		return errors.Join(fmt.Errorf("no report: the record watch did not catch up: %w", err), injectErr)
	}
	jobs, done := led.snapshot()
	outs, unattributed := analyze(faults, jobs, done)
	if len(faults) > 0 {
		st.baselinePause = longestPause(before(done, faults[0].at), steadyFrom.Add(2*st.jobTime), faults[0].at)
		st.faultsPause = longestPause(done, faults[0].at, faults[len(faults)-1].end)
	}
	st.unattributedRedo = unattributed
	st.took = time.Since(began)
	report(os.Stdout, st, summarize(outs), count(accepted, unanswered, jobs))
	if injectErr != nil {
		return fmt.Errorf("faults stopped after %d of %d: %w", len(faults), len(kinds), injectErr)
	}
	return nil
}

// injectAll injects the faults one after another, each after a random gap
// (a random moment of the jobs running then); it stops at the first
// fault it could not inject and returns those it did.
func injectAll(ctx context.Context, in *injector, kinds []kind) ([]*fault, error) {
	var faults []*fault
	for i, k := range kinds {
		gap := in.o.gapMin + time.Duration(in.rng.Float64()*float64(in.o.gapMax-in.o.gapMin))
		sleepUntil(ctx, time.Now().Add(gap))
		if err := ctx.Err(); err != nil {
			return faults, err
		}
		f := &fault{n: i + 1, kind: k}
		if err := in.inject(ctx, f); err != nil {
			if !f.at.IsZero() {
				f.end = time.Now()
				faults = append(faults, f)
			}
			return faults, err
		}
		faults = append(faults, f)
	}
	return faults, nil
}

// warmUp submits n jobs at once and waits for them: each runner loads the
// model, the supervisor has heard every runner for longer than the lost
// threshold, and the median time from claim to completion is a job's time
// with every runner busy.
func warmUp(ctx context.Context, ld *load, led *ledger, n int) (time.Duration, error) {
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() { defer wg.Done(); ids[i], _ = ld.submit(ctx) }()
	}
	wg.Wait()
	if slices.Contains(ids, "") {
		return 0, fmt.Errorf("warm-up: ingest left requests unanswered for two minutes (see %s)", "ingest.log")
	}
	if !drain(ctx, led, ids, 5*time.Minute) {
		return 0, fmt.Errorf("warm-up: %d jobs did not end within 5 minutes", n)
	}
	jobs, _ := led.snapshot()
	var times []time.Duration
	for _, id := range ids {
		h := jobs[id]
		if len(h.claims) > 0 && len(h.completions) > 0 {
			times = append(times, h.completions[0].at.Sub(h.claims[len(h.claims)-1].at))
		}
	}
	if len(times) == 0 {
		return 0, fmt.Errorf("warm-up: no job completed")
	}
	return nearestrank.Percentile(times, 50), nil
}

// drain waits until every job in ids has ended, up to limit.
func drain(ctx context.Context, led *ledger, ids []string, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for _, id := range ids {
		for !led.ended(id) {
			if !time.Now().Before(deadline) || ctx.Err() != nil {
				return false
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return true
}

// waitGroup waits for wg, up to limit.
func waitGroup(wg *sync.WaitGroup, limit time.Duration) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(limit):
	}
}
