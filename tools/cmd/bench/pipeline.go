package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
	"cyberimage/tools/internal/benchmodel"
)

// jobRun is one benchmark job as the harness sees it: when its request was
// published, when the runner's "completed" event arrived (sent after the
// ack was confirmed), and its record once read back.
type jobRun struct {
	id         string
	published  time.Time
	done       time.Time
	failed     bool
	fromRecord bool // the event was lost; done is the record's completed_at
	ended      chan struct{}
	phase      *phase
	rec        job.Record
	hasRec     bool
}

// tracker follows every job of the run through its progress events.
type tracker struct {
	mu   sync.Mutex
	jobs map[string]*jobRun
}

var (
	completedMark = []byte(`"status":"completed"`)
	failedMark    = []byte(`"status":"failed"`)
)

// watch subscribes to every job's events. The handler does as little as
// possible: it runs on the connection that measures the latencies.
func (t *tracker) watch(nc *nats.Conn) (*nats.Subscription, error) {
	prefix := bus.EventSubject("")
	sub, err := nc.Subscribe(bus.SubjectEventsAll, func(m *nats.Msg) {
		now := time.Now()
		var failed bool
		switch {
		case bytes.Contains(m.Data, completedMark):
		case bytes.Contains(m.Data, failedMark):
			failed = true
		default:
			return
		}
		t.end(strings.TrimPrefix(m.Subject, prefix), now, failed, false)
	})
	if err != nil {
		return nil, err
	}
	// Bursts of progress events must not be dropped as a slow consumer.
	_ = sub.SetPendingLimits(1<<20, 256<<20)
	return sub, nil
}

func (t *tracker) add(id string, ph *phase) *jobRun {
	r := &jobRun{id: id, ended: make(chan struct{}), phase: ph}
	t.mu.Lock()
	t.jobs[id] = r
	t.mu.Unlock()
	return r
}

func (t *tracker) end(id string, at time.Time, failed, fromRecord bool) {
	t.mu.Lock()
	r, ok := t.jobs[id]
	if !ok || !r.done.IsZero() {
		t.mu.Unlock()
		return
	}
	r.done, r.failed, r.fromRecord = at, failed, fromRecord
	t.mu.Unlock()
	close(r.ended)
	r.phase.ended.Add(1)
	select {
	case r.phase.progress <- struct{}{}:
	default:
	}
}

// phase is one batch of jobs with its measurements.
type phase struct {
	name     string
	inflight int // 0: all published at once
	runs     []*jobRun
	start    time.Time
	cpu      cpuUse
	msgs     natsMsgs
	timedOut bool
	ended    atomic.Int64
	progress chan struct{} // a job ended (coalesced)
}

func newPhase(name string, inflight int) *phase {
	return &phase{name: name, inflight: inflight, start: time.Now(), progress: make(chan struct{}, 1)}
}

// driver publishes benchmark requests and waits for their jobs.
type driver struct {
	nc      *nats.Conn
	store   *jobstore.Store
	tr      *tracker
	o       options
	runID   string
	stack   *stack
	say     func(string, ...any)
	counter atomic.Int64
}

func newDriver(nc *nats.Conn, store *jobstore.Store, st *stack, o options, say func(string, ...any)) (*driver, *nats.Subscription, error) {
	d := &driver{nc: nc, store: store, tr: &tracker{jobs: map[string]*jobRun{}}, o: o, stack: st, say: say,
		runID: time.Now().UTC().Format("150405")}
	sub, err := d.tr.watch(nc)
	return d, sub, err
}

// request is the JSON a user would `nats pub`. The request_id names the
// job in advance (job id = hash of it), so the harness can time it from the
// moment it publishes.
func (d *driver) request(phase string) (payload []byte, jobID string) {
	rid := fmt.Sprintf("bench-%s-%s-%d", d.runID, phase, d.counter.Add(1))
	payload = fmt.Appendf(nil, `{"prompt":%q,"width":%d,"height":%d,"steps":%d,"request_id":%q}`,
		benchPrompt, d.o.size, d.o.size, d.o.steps, rid)
	return payload, job.IDForRequestID(rid)
}

// publish sends one request with core NATS, as `nats pub` does.
func (d *driver) publish(ph *phase) (*jobRun, error) {
	payload, id := d.request(ph.name)
	r := d.tr.add(id, ph)
	r.published = time.Now()
	if err := d.nc.Publish(bus.SubjectRequests, payload); err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	ph.runs = append(ph.runs, r)
	return r, nil
}

// burst publishes n requests at once and waits for every job to end.
func (d *driver) burst(ctx context.Context, name string, n int) (*phase, error) {
	ph := newPhase(name, 0)
	before, msgs := sampleCPU(d.stack.all()), d.stack.natsMsgs()
	for range n {
		if _, err := d.publish(ph); err != nil {
			return ph, err
		}
	}
	if err := d.nc.Flush(); err != nil {
		return ph, err
	}
	d.say("%s: %d requests published in %s", name, n, time.Since(ph.start).Round(time.Millisecond))
	err := d.wait(ctx, ph)
	ph.cpu = sampleCPU(d.stack.all()).since(before, d.o.cores)
	ph.msgs = d.stack.natsMsgs().since(msgs)
	return ph, err
}

// paced keeps `inflight` jobs in the pipeline at a time: each worker
// publishes its next request when its previous job ends, so no job waits
// behind another and the latency is the pipeline's own.
func (d *driver) paced(ctx context.Context, name string, n, inflight int) (*phase, error) {
	ph := newPhase(name, inflight)
	before, msgs := sampleCPU(d.stack.all()), d.stack.natsMsgs()
	var mu sync.Mutex
	var next atomic.Int64
	errs := make(chan error, inflight)
	var wg sync.WaitGroup
	for range inflight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				mu.Lock()
				r, err := d.publish(ph)
				mu.Unlock()
				if err == nil {
					err = d.nc.Flush()
				}
				if err != nil {
					errs <- err
					return
				}
				select {
				case <-r.ended:
				case <-ctx.Done():
					return
				case <-time.After(30 * time.Second):
					errs <- fmt.Errorf("%s: job %s did not end within 30s", name, r.id)
					return
				}
			}
		}()
	}
	err := waitWorkers(&wg, errs, func() { d.say("%s: %d/%d jobs ended", name, ph.ended.Load(), n) })
	if err == nil && ctx.Err() != nil {
		ph.timedOut = true
	}
	ph.cpu = sampleCPU(d.stack.all()).since(before, d.o.cores)
	ph.msgs = d.stack.natsMsgs().since(msgs)
	return ph, err
}

// wait blocks until every job of the phase ended or ctx ends, printing
// progress. A job whose event was lost (core NATS is at most once) is
// found from its record after a quiet spell, so the wait cannot hang on it.
func (d *driver) wait(ctx context.Context, ph *phase) error {
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	lastEnded, lastChange := int64(-1), time.Now()
	for {
		ended := ph.ended.Load()
		if ended == int64(len(ph.runs)) {
			return nil
		}
		if ended != lastEnded {
			lastEnded, lastChange = ended, time.Now()
		}
		select {
		case <-ctx.Done():
			ph.timedOut = true
			d.say("%s: stopped (deadline or interrupt) with %d/%d jobs ended", ph.name, ended, len(ph.runs))
			return nil
		case <-tick.C:
			rate := float64(ended) / time.Since(ph.start).Seconds()
			d.say("%s: %d/%d jobs ended (%.0f jobs/s so far)", ph.name, ended, len(ph.runs), rate)
			if time.Since(lastChange) > 5*time.Second {
				d.sweep(ctx, ph)
			}
		case <-ph.progress:
		}
	}
}

// sweep ends, from their records, jobs whose completion event never came.
func (d *driver) sweep(ctx context.Context, ph *phase) {
	for _, r := range ph.runs {
		select {
		case <-r.ended:
			continue
		default:
		}
		rec, _, err := d.store.Get(ctx, r.id)
		if err != nil || !rec.Status.Terminal() || rec.CompletedAt == nil {
			continue
		}
		d.tr.end(r.id, *rec.CompletedAt, rec.Status != job.StatusCompleted, true)
	}
}

// collect reads back every job's record.
func (d *driver) collect(ctx context.Context, ph *phase) {
	for _, r := range ph.runs {
		rec, _, err := d.store.Get(ctx, r.id)
		if err == nil {
			r.rec, r.hasRec = rec, true
		}
	}
}

const benchPrompt = benchmodel.Prompt

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
