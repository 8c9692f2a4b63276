// Command benchpriority measures what priority classes do for interactive
// jobs sent while a large batch of the same model is queued: their queue
// wait (claim − request, from their records), p50 and p99, when every job
// is normal (before priorities) and when the interactive jobs are high,
// beside the batch's drain time and the time until every job is done
// (priority reorders the work; it must not cost throughput). p99 is by
// nearest rank: of 30 jobs, the slowest. `make bench-priority` runs it on the demo model, with
// ingest, a supervisor and the runners as processes, each with its own
// role's credentials. It prints figures and never fails on them.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
	"cyberimage/shared/natsauth"
	"cyberimage/tools/internal/benchstack"
	"cyberimage/tools/internal/nearestrank"
)

type options struct {
	batch, interactive, size, steps, runners int
	keep                                     bool
}

func main() {
	var o options
	flag.IntVar(&o.batch, "batch", 200, "jobs in the batch, queued at once")
	flag.IntVar(&o.interactive, "interactive", 30, "interactive jobs, sent one at a time while the batch runs")
	flag.IntVar(&o.size, "size", 256, "image side of every job")
	flag.IntVar(&o.steps, "steps", 8, "steps of every job")
	flag.IntVar(&o.runners, "runners", 1, "runners, one slot each")
	flag.BoolVar(&o.keep, "keep", false, "keep the temp folder (NATS store, logs)")
	flag.Parse()
	if err := o.check(); err != nil {
		fmt.Fprintf(os.Stderr, "benchpriority: %v\n", err)
		flag.Usage()
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintf(os.Stderr, "benchpriority: %v\n", err)
		os.Exit(1)
	}
}

// check refuses counts the bench cannot run with: no interactive jobs
// leave nothing to measure (and a gap divided by zero), no runners a
// drain that never ends.
func (o options) check() error {
	for _, f := range []struct {
		name string
		v    int
	}{{"batch", o.batch}, {"interactive", o.interactive}, {"size", o.size}, {"steps", o.steps}, {"runners", o.runners}} {
		if f.v < 1 {
			return fmt.Errorf("-%s %d: want at least 1", f.name, f.v)
		}
	}
	return nil
}

// scenario is one run: the batch's class and the interactive jobs'.
type scenario struct {
	name               string
	batch, interactive job.Priority
}

// result is what a scenario measured.
type result struct {
	scenario
	waits []time.Duration // the interactive jobs' queue waits, sorted
	drain time.Duration   // from the batch's first request to its last completion
	all   time.Duration   // the same to the last completion of any job
}

func run(o options) error {
	ctx, r, tmp, stop, err := benchstack.BeginIn(time.Hour, "benchpriority-", o.keep)
	if err != nil {
		return err
	}
	defer stop()
	say, root := r.Say, r.Root
	ps := benchstack.NewProcs(root, tmp)
	defer ps.StopAll()
	bins, err := r.Binaries(ctx, "", filepath.Join(tmp, "bin"), benchstack.ServicePackages)
	if err != nil {
		return err
	}
	creds, err := benchstack.NewCreds(filepath.Join(tmp, "creds"))
	if err != nil {
		return err
	}
	ns, err := benchstack.StartEmbedded(benchstack.EmbeddedOptions{Name: "cyberimage-benchpriority", Dir: tmp, Auth: creds.Auth})
	if err != nil {
		return err
	}
	defer ns.Close()
	obs, err := creds.Observe(ctx, ns.URL(), "benchpriority", bus.DefaultSettings(), "demo")
	if err != nil {
		return err
	}
	defer obs.NC.Close()
	observer, store := obs.NC, obs.Store
	s3, _, err := benchstack.StartMinIO(ctx, ps, benchstack.MinIOBin.Path(root), tmp)
	if err != nil {
		return err
	}
	modelsDir, err := benchstack.ModelsDir(root, tmp, []string{"demo"})
	if err != nil {
		return err
	}
	stores := benchstack.Stores{NATSURL: ns.URL(), S3: s3, ModelsDir: modelsDir,
		ORTLib: benchstack.ORTLib.Path(root)}
	svc := &benchstack.Services{Procs: ps, Bins: bins, Env: stores.Env(), Creds: creds}
	if _, err := svc.StartSupervisor(ctx, "supervisor-1"); err != nil {
		return err
	}
	if _, err := svc.StartIngest(ctx); err != nil {
		return err
	}
	for i := range o.runners {
		if _, err := svc.StartRunner(ctx, observer, fmt.Sprintf("runner-%d", i+1)); err != nil {
			return err
		}
	}
	client, _, err := creds.Connect(ns.URL(), natsauth.Client, "benchpriority-client")
	if err != nil {
		return err
	}
	defer client.Close()
	b := &bench{o: o, nc: client, store: store}

	warm, err := b.submitAll(ctx, "warm-up", job.PriorityNormal, 2*o.runners)
	if err != nil {
		return err
	}
	recs, err := b.wait(ctx, warm)
	if err != nil {
		return err
	}
	var runs []time.Duration
	for _, r := range recs {
		runs = append(runs, r.CompletedAt.Sub(*r.StartedAt))
	}
	slices.Sort(runs)
	jobTime := runs[len(runs)/2]
	// Interactive jobs are spread over the first half of the batch's
	// expected drain, so each finds a long queue ahead of it.
	b.gap = time.Duration(float64(o.batch) * float64(jobTime) / float64(o.runners) / 2 / float64(o.interactive))
	say("a job runs %.0f ms; batch of %d, %d interactive jobs one every %.0f ms, %d runner(s) × 1 slot",
		job.Millis(jobTime), o.batch, o.interactive, job.Millis(b.gap), o.runners)

	var results []result
	for _, sc := range []scenario{
		{"before: every job normal", job.PriorityNormal, job.PriorityNormal},
		{"after: interactive high, batch normal", job.PriorityNormal, job.PriorityHigh},
		{"after: interactive high, batch low", job.PriorityLow, job.PriorityHigh},
	} {
		say("%s", sc.name)
		r, err := b.measure(ctx, sc)
		if err != nil {
			return fmt.Errorf("%s: %w", sc.name, err)
		}
		say("interactive queue wait p50 %.0f ms, p99 %.0f ms; batch drained in %.1f s", job.Millis(nearestrank.Sorted(r.waits, 50)), job.Millis(nearestrank.Sorted(r.waits, 99)), r.drain.Seconds())
		results = append(results, r)
	}
	fmt.Printf("Interactive jobs' queue wait behind a batch of %d jobs of the same model (demo, %d², %d steps; a job runs %.0f ms; %d runner(s) × 1 slot; %d interactive jobs, one every %.0f ms)\n\n",
		o.batch, o.size, o.steps, job.Millis(jobTime), o.runners, o.interactive, job.Millis(b.gap))
	fmt.Printf("| scenario | queue wait p50 | p99 | batch drained | every job done |\n|---|---|---|---|---|\n")
	for _, r := range results {
		fmt.Printf("| %s | %.0f ms | %.0f ms | %.1f s | %.1f s |\n", r.name, job.Millis(nearestrank.Sorted(r.waits, 50)), job.Millis(nearestrank.Sorted(r.waits, 99)),
			r.drain.Seconds(), r.all.Seconds())
	}
	return nil
}

// bench submits jobs as a client and reads their records.
type bench struct {
	o     options
	nc    *nats.Conn
	store *jobstore.Store
	gap   time.Duration
	next  int
}

// measure queues the batch, sends the interactive jobs one every gap
// while it runs, and waits for all of them.
func (b *bench) measure(ctx context.Context, sc scenario) (result, error) {
	began := time.Now()
	batch, err := b.submitAll(ctx, "batch", sc.batch, b.o.batch)
	if err != nil {
		return result{}, err
	}
	var interactive []string
	tick := time.NewTicker(b.gap)
	defer tick.Stop()
	for range b.o.interactive {
		id, err := b.submit(ctx, "interactive", sc.interactive)
		if err != nil {
			return result{}, err
		}
		interactive = append(interactive, id)
		select {
		case <-tick.C:
		case <-ctx.Done():
			return result{}, ctx.Err()
		}
	}
	recs, err := b.wait(ctx, append(batch, interactive...))
	if err != nil {
		return result{}, err
	}
	r := result{scenario: sc}
	for _, id := range interactive {
		r.waits = append(r.waits, time.Duration(recs[id].Stages.QueueWaitMS*float64(time.Millisecond)))
	}
	slices.Sort(r.waits)
	for _, id := range batch {
		r.drain = max(r.drain, recs[id].CompletedAt.Sub(began))
	}
	for _, rec := range recs {
		r.all = max(r.all, rec.CompletedAt.Sub(began))
	}
	return r, nil
}

func (b *bench) submitAll(ctx context.Context, kind string, p job.Priority, n int) ([]string, error) {
	ids := make([]string, 0, n)
	for range n {
		id, err := b.submit(ctx, kind, p)
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// submit sends one request and returns its job id.
func (b *bench) submit(ctx context.Context, kind string, p job.Priority) (string, error) {
	b.next++
	payload := fmt.Sprintf(`{"prompt":"%s %d","width":%d,"height":%d,"steps":%d,"priority":%q}`, kind, b.next, b.o.size, b.o.size, b.o.steps, p)
	msg, err := b.nc.RequestWithContext(ctx, bus.SubjectRequests, []byte(payload))
	if err != nil {
		return "", fmt.Errorf("submit: %w", err)
	}
	reply, err := bus.DecodeRequestReply(msg.Data)
	if err != nil || reply.Status != job.StatusQueued {
		return "", fmt.Errorf("submit: answered %s (%v)", msg.Data, err)
	}
	return reply.JobID, nil
}

// wait watches the job records until every one of ids ended, and returns
// them; a job that did not complete is an error. One watch of the bucket
// (its records as they are, then every change) costs the store what the
// supervisor's own watch costs, not a read per job per poll.
func (b *bench) wait(ctx context.Context, ids []string) (map[string]job.Record, error) {
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := b.store.KV().WatchAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("watch records: %w", err)
	}
	defer func() { _ = w.Stop() }()
	out := map[string]job.Record{}
	for len(out) < len(ids) {
		var e jetstream.KeyValueEntry
		select {
		case e = <-w.Updates():
		case <-ctx.Done():
			return nil, fmt.Errorf("%d of %d jobs ended: %w", len(out), len(ids), ctx.Err())
		}
		if e == nil || e.Operation() != jetstream.KeyValuePut {
			continue // nil: the records as they were have all come
		}
		rec, err := jobstore.Decode(e.Value())
		if err != nil || !want[rec.JobID] || !rec.Status.Terminal() {
			continue
		}
		if rec.Status != job.StatusCompleted || rec.StartedAt == nil || rec.CompletedAt == nil {
			return nil, fmt.Errorf("job %s ended %s", rec.JobID, rec.Status)
		}
		out[rec.JobID] = rec
	}
	return out, nil
}
