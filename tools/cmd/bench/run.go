package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
	"cyberimage/shared/models"
	"cyberimage/shared/natsauth"
	"cyberimage/tools/internal/benchstack"
)

// reportReserve is kept from the deadline for reading records back and
// writing the report, so a run cut short still reports what it measured.
func reportReserve(deadline time.Duration) time.Duration { return min(30*time.Second, deadline/5) }

func run(o options) error {
	ctx, r, stop, err := benchstack.Begin(o.Deadline)
	if err != nil {
		return err
	}
	defer stop()
	say, root := r.Say, r.Root
	tools, err := r.Tools(benchstack.ORTLib, benchstack.MinIOBin)
	if err != nil {
		return err
	}
	o.ortLib, o.minioBin = tools[0], tools[1]
	o.Out = r.Out(o.Out)
	st, err := newStack(root, filepath.Join(o.Out, "logs"))
	if err != nil {
		return err
	}
	defer st.close()

	if o.BinDir != "" {
		say("binaries: prebuilt, from %s", o.BinDir)
		if err := st.usePrebuilt(o.BinDir); err != nil {
			return err
		}
	} else {
		say("build: ingest, gpu-runner, supervisor, bench-model")
		if err := st.build(ctx); err != nil {
			return err
		}
	}
	if err := st.startNATS(o); err != nil {
		return err
	}
	say("nats: embedded JetStream at %s", st.natsURL())
	if err := st.startMinIO(ctx, o.minioBin); err != nil {
		return err
	}
	say("minio: pid %d at %s", st.minio.PID(), st.s3.Endpoint)
	// The harness submits requests and hears their events as a client,
	// and reads records and hears runners' heartbeats with the
	// supervisor's read rights; only provisioning (startServices) is the
	// admin's. Both connections' names begin "bench", the kind the
	// message counts group them under.
	client, err := st.connect("bench client", natsauth.Client)
	if err != nil {
		return err
	}
	defer client.Close()
	observer, err := st.connect("bench observer", natsauth.Supervisor)
	if err != nil {
		return err
	}
	defer observer.Close()
	spec, err := benchSpec(root, o)
	if err != nil {
		return err
	}
	var only []string
	if o.models != "" {
		only = strings.Split(o.models, ",")
	}
	if o.modelsDir, err = benchstack.ModelsDir(root, st.tmp, only); err != nil {
		return err
	}
	res := newResults(o, spec)
	if o.redisBin, res.AsynqNotMeasured = redisServer(o); res.AsynqNotMeasured != "" {
		say("asynq: not measured (%s)", res.AsynqNotMeasured)
	}
	res.Models = servedModels(o.modelsDir)
	res.Source = sourceRevision(root, o.BinDir)
	concurrency := o.runners * o.slots

	// Raw limits, one part at a time, before any service runs.
	before, err := measureRaw(ctx, st, o, spec, "before", say)
	if err != nil {
		return err
	}
	res.Raw = append(res.Raw, before)

	// The pipeline.
	say("services: supervisor, ingest, %d runner(s) × %d slot(s)", o.runners, o.slots)
	if err := st.startServices(ctx, observer, o); err != nil {
		return err
	}
	// startServices provisioned the streams and the bucket; the harness
	// only reads records.
	js, err := jetstream.New(observer)
	if err != nil {
		return err
	}
	store, err := jobstore.Open(ctx, js)
	if err != nil {
		return err
	}
	drv, sub, err := newDriver(client, store, st, o, say)
	if err != nil {
		return err
	}
	defer sub.Unsubscribe()
	phaseCtx, phaseCancel := context.WithTimeout(ctx, time.Until(deadlineOf(ctx))-reportReserve(o.Deadline))
	defer phaseCancel()
	say("warm-up: %d jobs (each runner loads the model on its first job)", 4*concurrency)
	if _, err := drv.burst(phaseCtx, "warmup", 4*concurrency); err != nil {
		return err
	}
	var prof *profiler
	if o.profile {
		if prof, err = startProfile(o.Out, st.services()); err != nil {
			return err
		}
		say("profile: %s", prof.describe())
	}
	say("throughput: %d requests published at once", o.jobs)
	burst, err := drv.burst(phaseCtx, "burst", o.jobs)
	if prof != nil {
		res.Profiles = prof.stop(say)
	}
	if err != nil {
		return err
	}
	var paced *phase
	if !burst.timedOut {
		say("latency: %d jobs, %d in flight at a time", o.pacedJobs, o.inflight)
		if paced, err = drv.paced(phaseCtx, "paced", o.pacedJobs, o.inflight); err != nil {
			return err
		}
	}

	if o.bracket && ctx.Err() == nil && !burst.timedOut {
		after, err := measureRaw(phaseCtx, st, o, spec, "after", say)
		if err != nil {
			say("raw limits after the pipeline: %v (using the ones before)", err)
		} else {
			res.Raw = append(res.Raw, after)
		}
	}

	collectCtx, collectCancel := context.WithTimeout(context.WithoutCancel(ctx), reportReserve(o.Deadline)/2)
	defer collectCancel()
	say("reading %d job records back", len(burst.runs)+lenRuns(paced))
	drv.collect(collectCtx, burst)
	res.Burst = analyze(burst)
	if paced != nil {
		drv.collect(collectCtx, paced)
		p := analyze(paced)
		res.Paced = &p
	}
	res.conclude()
	if err := writeJSON(filepath.Join(o.Out, "results.json"), res); err != nil {
		return err
	}
	charts, err := drawCharts(o.Out, res)
	if err != nil {
		say("charts: %v", err)
	}
	res.Charts = charts
	printMarkdown(os.Stdout, res)
	say("wrote %s (results.json, %d charts, logs/)", o.Out, len(charts))
	if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return ctx.Err()
	}
	return nil
}

// benchSpec is the spec ingest makes of the benchmark's request, for the
// work message size and the image metadata of the raw measurements.
func benchSpec(root string, o options) (job.Spec, error) {
	catalog, err := models.Load(filepath.Join(root, "infra", "models"), "")
	if err != nil {
		return job.Spec{}, err
	}
	req, err := job.DecodeRequest(fmt.Appendf(nil, `{"prompt":%q,"width":%d,"height":%d,"steps":%d,"request_id":"bench-sample"}`,
		benchPrompt, o.size, o.size, o.steps))
	if err != nil {
		return job.Spec{}, err
	}
	id := job.IDForRequestID(req.RequestID)
	return job.Normalize(req, catalog, func() int64 { return job.SeedFromID(id) }, time.Now())
}

func deadlineOf(ctx context.Context) time.Time {
	d, ok := ctx.Deadline()
	if !ok {
		return time.Now().Add(time.Hour)
	}
	return d
}

func lenRuns(ph *phase) int {
	if ph == nil {
		return 0
	}
	return len(ph.runs)
}

// sourceRevision names the code measured: the commit, and whether the
// working tree had changes, or the folder of prebuilt binaries.
func sourceRevision(root, binDir string) string {
	if binDir != "" {
		return "prebuilt binaries in " + binDir
	}
	rev, err := exec.Command("git", "-C", root, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	s := strings.TrimSpace(string(rev))
	if status, err := exec.Command("git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(status) > 0 {
		s += " with uncommitted changes"
	}
	return s
}
