package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"cyberimage/shared/bus"
	"cyberimage/shared/natsauth"
	"cyberimage/shared/objectstore"
	"cyberimage/tools/internal/benchstack"
)

// supervisor is one supervisor replica and where its API listens.
type supervisor struct {
	id, addr string
	proc     *benchstack.Proc
}

// harness holds the stack under test and what the bench has gathered.
type harness struct {
	o    options
	say  func(string, ...any)
	ps   *benchstack.Procs
	cl   *benchstack.Cluster
	s3   objectstore.Config
	sups []*supervisor // the leader first, once known
	emus []*emulator
	feed *feeder
	tmp  string
	// completions holds every completion write so far (unix ns), sorted:
	// the index's count of completed jobs, read at a moment, says which of
	// them it had seen.
	completions []int64
}

func run(o options) error {
	ctx, r, stop, err := benchstack.Begin(o.Deadline)
	if err != nil {
		return err
	}
	defer stop()
	root := r.Root
	h := &harness{o: o, say: r.Say}
	tools, err := r.Tools(benchstack.MinIOBin, benchstack.NATSServerBin)
	if err != nil {
		return err
	}
	minioBin, natsBin := tools[0], tools[1]
	o.Out = r.Out(o.Out)
	h.o.Out = o.Out
	logDir, err := benchstack.CleanLogDir(o.Out)
	if err != nil {
		return err
	}
	if h.tmp, err = os.MkdirTemp("", "cyberimage-fleet-"); err != nil {
		return err
	}
	defer os.RemoveAll(h.tmp)
	h.ps = benchstack.NewProcs(root, logDir)
	defer h.ps.StopAll()

	pkgs := map[string]string{"ingest": benchstack.ServicePackages["ingest"], "supervisor": benchstack.ServicePackages["supervisor"]}
	bins, err := r.Binaries(ctx, o.BinDir, filepath.Join(h.tmp, "bin"), pkgs)
	if err != nil {
		return err
	}
	if h.cl, err = benchstack.StartCluster(ctx, h.ps, natsBin, h.tmp, 3); err != nil {
		return err
	}
	h.say("nats: three nats-server processes at %s", h.cl.URL())
	if h.s3, _, err = benchstack.StartMinIO(ctx, h.ps, minioBin, h.tmp); err != nil {
		return err
	}
	maxAckPending := o.maxAckPending
	if maxAckPending == 0 {
		maxAckPending = max(bus.DefaultSettings().MaxAckPending, 2*o.slots*o.runners[len(o.runners)-1])
	}
	if err := h.provision(ctx, maxAckPending); err != nil {
		return err
	}
	if err := h.startServices(ctx, root, bins, maxAckPending); err != nil {
		return err
	}
	client, _, err := h.cl.Creds.Connect(h.cl.URL(), natsauth.Client, "benchfleet-client")
	if err != nil {
		return err
	}
	defer client.Close()
	h.feed = &feeder{nc: client, steps: o.steps, events: "http://" + h.sups[0].addr + "/v1/events", seen: map[string]time.Time{}}
	feedCtx, stopFeed := context.WithCancel(ctx)
	defer stopFeed()
	go h.feed.run(feedCtx, rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1)))

	mean := meanModelTime()
	h.say("job mix: mean model time %.1fs (%.0f%% long %d-image jobs of 30-60s), %d steps each; MaxAckPending %d",
		mean.Seconds(), longJobShare*100, longJobImages, o.steps, maxAckPending)
	var results []stepResult
	prev := 0
	for _, n := range o.runners {
		need := o.warmup + o.window + time.Duration(n-prev)*10*time.Millisecond + 2*time.Minute
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < need {
			h.say("step %d runners: skipped, %s left of -deadline and the step needs about %s", n, time.Until(dl).Round(time.Second), need.Round(time.Second))
			break
		}
		h.say("step %d runners × %d slots: starting %d more emulated runners", n, o.slots, n-prev)
		if err := h.addRunners(ctx, prev+1, n-prev); err != nil {
			return err
		}
		prev = n
		rate := o.load * float64(n*o.slots) / mean.Seconds()
		h.feed.setRate(rate)
		h.say("step %d: feed %.1f jobs/s (%.0f%% of %d slots); warm-up %s", n, rate, o.load*100, n*o.slots, o.warmup)
		sleepCtx(ctx, o.warmup)
		if ctx.Err() != nil {
			break
		}
		h.say("step %d: measuring for %s", n, o.window)
		r, err := h.measure(ctx, n, rate)
		if err != nil {
			return fmt.Errorf("step %d: %w", n, err)
		}
		results = append(results, r)
		h.say("step %d: %s", n, r.oneLine())
		if why := r.machineSaturated(); why != "" && !o.keepGoing {
			h.say("step %d: this machine saturated (%s): no larger step (-keep-going to try anyway)", n, why)
			break
		}
	}
	stopFeed()
	report(os.Stdout, o, mean, results)
	return nil
}

// provision makes the layout at R3 with the runners' consumer allowing
// maxAckPending jobs in flight, and the bucket.
func (h *harness) provision(ctx context.Context, maxAckPending int) error {
	settings := bus.DefaultSettings()
	settings.Replicas = len(h.cl.Nodes)
	settings.MaxAckPending = maxAckPending
	if err := h.cl.Creds.Provision(ctx, h.cl.URL(), "benchfleet-admin", settings, fleetModel); err != nil {
		return err
	}
	s3, err := objectstore.Connect(ctx, h.s3)
	if err != nil {
		return err
	}
	return objectstore.EnsureBucket(ctx, s3, h.s3.Bucket)
}

// startServices starts two supervisors and ingest, each with its own
// role's credentials, and finds the leader.
func (h *harness) startServices(ctx context.Context, root string, bins map[string]string, maxAckPending int) error {
	modelsDir, err := benchstack.ModelsDir(root, h.tmp, []string{fleetModel})
	if err != nil {
		return err
	}
	stores := benchstack.Stores{NATSURL: h.cl.URL(), Replicas: len(h.cl.Nodes), S3: h.s3, ModelsDir: modelsDir}
	env := append(stores.Env(), "CYBERIMAGE_MAX_ACK_PENDING="+strconv.Itoa(maxAckPending), "CYBERIMAGE_CHECK_INTERVAL="+h.o.checkInterval.String())
	svc := &benchstack.Services{Procs: h.ps, Bins: bins, Env: env, Creds: h.cl.Creds}
	for i := 1; i <= 2; i++ {
		addr, err := benchstack.LoopbackAddr()
		if err != nil {
			return err
		}
		s := &supervisor{id: fmt.Sprintf("fleet-sup-%d", i), addr: addr}
		if s.proc, err = svc.StartSupervisorAt(ctx, s.id, addr); err != nil {
			return err
		}
		h.sups = append(h.sups, s)
	}
	if _, err := svc.StartIngest(ctx); err != nil {
		return err
	}
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); sleepCtx(ctx, 250*time.Millisecond) {
		for i, s := range h.sups {
			m, err := scrape(ctx, "http://"+s.addr+"/metrics")
			if err == nil && m["cyberimage_supervisor_leader"] == 1 {
				h.sups[0], h.sups[i] = h.sups[i], h.sups[0]
				h.say("services: supervisors %s (leader) and %s, ingest (logs in %s)", h.sups[0].id, h.sups[1].id, h.ps.LogDir())
				return nil
			}
		}
	}
	return fmt.Errorf("no supervisor took the lead within a minute (see %s)", h.ps.LogDir())
}
