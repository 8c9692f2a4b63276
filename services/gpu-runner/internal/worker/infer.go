package worker

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"cyberimage/services/gpu-runner/internal/pipeline"
	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
	"cyberimage/shared/tracing"
)

type imageOut = pipeline.Image

// infer runs a batch: it groups the deliveries that can share a model run,
// and for each group claims its deliveries as their run begins, so a group
// waiting behind another is not yet processing. It returns, in order, the
// deliveries ready for upload; every other one has been ended.
func (w *Worker) infer(batch []*delivery) []*delivery {
	var ready []*delivery
	for _, group := range groupByKey(batch, workSpec) {
		if onGPU(group) && firstDeliveries(group) && !pastDeadline(group, w.p.Clock) {
			ready = append(ready, w.claimWhileRunning(group)...)
			continue
		}
		var claimed []*delivery
		claims := w.claimAll(group)
		for i, d := range group {
			if err := claims[i]; err != nil {
				w.end(d, err)
				continue
			}
			claimed = append(claimed, d)
		}
		ready = append(ready, w.runClaimed(claimed)...)
	}
	return ready
}

func workSpec(d *delivery) job.Spec   { return d.work.Spec }
func recordSpec(d *delivery) job.Spec { return d.spec }

// onGPU: the group's model runs on a GPU, so the work of its claim (the
// runner's encoding, the NATS server's write, the watchers' deliveries)
// can run beside it on CPUs the model does not need. On the CPU it would
// compete with the model: measured on 2 cores, the inference took about
// 1 ms longer, as long as the round trip it saved.
func onGPU(group []*delivery) bool { return group[0].slot.gpu != nil }

// firstDeliveries: every delivery of the group is the first of work ingest
// queued, so its record is almost surely as the work message describes it
// (queued, never attempted, the same spec) and its claim is one
// compare-and-set.
func firstDeliveries(group []*delivery) bool {
	for _, d := range group {
		if d.delivered != 1 || d.work.Revision == 0 {
			return false
		}
	}
	return true
}

// pastDeadline: some delivery of the group was not started by its job's
// deadline. Its claim ends the job instead (Expire), so it must come
// before the model runs, not beside it: such a job never takes a GPU. The
// clock is read only for jobs that have a deadline.
func pastDeadline(group []*delivery, clock func() time.Time) bool {
	for _, d := range group {
		if !d.work.Spec.Deadline.IsZero() && d.work.Spec.PastDeadline(clock()) {
			return true
		}
	}
	return false
}

// claimWhileRunning runs a group of first deliveries on its GPU while
// their claims are written, instead of after: the claim is a KV round trip
// (a quorum write on a replicated cluster) the GPU need not wait for.
// Nothing leaves the runner before a delivery's claim has landed (its step
// events wait for it; upload, record and ack come after), so the fence is
// what it was: a delivery whose claim fails is ended as it would have been
// before running, and its images are dropped. The rare delivery whose
// record turned out different (an earlier attempt, another spec) is
// decided again as any claimed one.
func (w *Worker) claimWhileRunning(group []*delivery) []*delivery {
	for _, d := range group {
		d.events.holdUntilClaimed()
	}
	claims := make(chan []error, 1)
	go func() { claims <- w.claimAll(group) }()
	out, took, runErr := w.runModel(group, workSpec)
	errs := <-claims
	var ran, again []*delivery
	var images [][]imageOut
	for i, d := range group {
		switch {
		case errs[i] != nil:
			w.end(d, errs[i])
		case d.spec != d.work.Spec || d.attempt > 1:
			again = append(again, d)
		case runErr != nil:
			w.end(d, runErr)
		default:
			ran = append(ran, d)
			images = append(images, out[i])
		}
	}
	w.keepImages(ran, images, took)
	return append(ran, w.runClaimed(again)...)
}

// runClaimed runs claimed deliveries: those an earlier attempt already
// stored images for are ready as they are; the rest run on the model,
// grouped by the spec their record gives.
func (w *Worker) runClaimed(claimed []*delivery) []*delivery {
	var ready, todo []*delivery
	for _, d := range claimed {
		if d.attempt == 1 {
			// Nothing can be stored yet: skip the S3 round trip, which
			// would otherwise sit between two inferences.
			todo = append(todo, d)
			continue
		}
		keys, ok, err := w.p.Images.Existing(d.ctx, d.work.JobID, d.spec)
		switch {
		case err != nil:
			w.end(d, err)
		case ok:
			d.log.Info("images already stored by an earlier attempt; not generating again")
			d.keys = keys
			ready = append(ready, d)
		default:
			todo = append(todo, d)
		}
	}
	for _, g := range groupByKey(todo, recordSpec) {
		if w.generate(g) {
			ready = append(ready, g...)
		}
	}
	return ready
}

// claimAll claims a batch's deliveries side by side: each is a KV round
// trip, and in sequence they would delay the batch's inference.
func (w *Worker) claimAll(batch []*delivery) []error {
	errs := make([]error, len(batch))
	if len(batch) == 1 {
		errs[0] = w.claim(batch[0])
		return errs
	}
	var wg sync.WaitGroup
	for i, d := range batch {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = w.claim(d) }()
	}
	wg.Wait()
	return errs
}

// claim moves the record to processing under this delivery as its run
// begins: from now on the record names it, and only it may finish the job.
// The server's time of this write is when the supervisor's stall clock
// starts, so claim is called as the model starts, never ahead. A queued
// job not started by its deadline is ended instead (job.Expire, by this
// runner's clock), never run: the supervisor's sweep may not have come
// yet, and a job is never started late.
func (w *Worker) claim(d *delivery) error {
	var expired bool
	mutate := func(r *job.Record) error {
		now := w.p.Clock()
		if expired = job.Expire(r, now) == nil; expired {
			return nil
		}
		return job.Claim(r, d.id, now)
	}
	var rec job.Record
	var rev uint64
	var err error
	if d.work.Revision != 0 {
		// One compare-and-set against the record as ingest queued it; a
		// record changed since (a redelivery) is read and decided again.
		rec, rev, err = w.p.Store.UpdateFrom(d.ctx, d.work.QueuedRecord(), d.work.Revision, mutate)
	} else {
		rec, err = w.p.Store.Update(d.ctx, d.work.JobID, mutate)
	}
	switch {
	case errors.Is(err, job.ErrEnded):
		return errAlreadyDone
	case errors.Is(err, jobstore.ErrNotFound):
		return permanent(fmt.Errorf("job %s has no record", d.work.JobID))
	case err != nil:
		return fmt.Errorf("mark processing: %w", err)
	case expired:
		return errExpired
	}
	d.attempt = rec.Attempts
	d.record, d.rev = rec, rev
	d.spec = rec.Spec
	d.stages = rec.Stages
	d.startSpan(rec)
	d.claimed.Store(true)
	w.emitStart(d)
	w.claimedEvents(d)
	return nil
}

// groupByKey splits deliveries into groups that can share a model run,
// keeping first-seen order.
func groupByKey(ds []*delivery, spec func(*delivery) job.Spec) [][]*delivery {
	var keys []pipeline.BatchKey
	groups := map[pipeline.BatchKey][]*delivery{}
	for _, d := range ds {
		k := pipeline.KeyOf(spec(d))
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], d)
	}
	out := make([][]*delivery, len(keys))
	for i, k := range keys {
		out[i] = groups[k]
	}
	return out
}

// generate runs one group of claimed deliveries through its model and
// reports whether the images are ready; on failure every delivery of the
// group has been ended.
func (w *Worker) generate(group []*delivery) bool {
	out, took, err := w.runModel(group, recordSpec)
	if err != nil {
		w.endAll(group, err)
		return false
	}
	w.keepImages(group, out, took)
	return true
}

// runTime is when a model run started and ended, and how many jobs it ran.
type runTime struct {
	start, end time.Time
	batch      int
}

// runModel runs one group on its model, each delivery with the spec specOf
// gives (the group shares its batch key). Its error is what the group's
// deliveries end with: the context's when the run was stopped, otherwise
// permanent, since the same input would fail the same way.
func (w *Worker) runModel(group []*delivery, specOf func(*delivery) job.Spec) ([][]imageOut, runTime, error) {
	specs := make([]job.Spec, len(group))
	for i, d := range group {
		specs[i] = specOf(d)
	}
	model, gpu := specs[0].Model, group[0].slot.gpu
	gen, release, err := w.p.Generators.For(model, gpu)
	if err != nil {
		return nil, runTime{}, permanent(fmt.Errorf("model %s: %w", model, err))
	}
	defer release()
	ctx, releaseCtx := groupContext(w.workCtx, group)
	defer releaseCtx()
	progress := func(step, total int) {
		for _, d := range group {
			w.emitStep(d, step, total)
		}
	}
	// Let what this goroutine just started run before the model does (the
	// claim beside it, the previous job's upload, the prefetch): the run
	// is a cgo call, and a goroutine readied just before one often waits
	// for it, queued on the P the call holds until the runtime hands that
	// P over (for a 4 ms call, measured: started after 0.2 ms at p50 and
	// 3 ms at p90; with this yield 14 µs and 31 µs).
	runtime.Gosched()
	t0 := time.Now()
	out, err := runGroup(ctx, gen, specs, progress)
	if err != nil {
		if ctx.Err() != nil {
			return nil, runTime{}, err
		}
		if !errors.Is(err, pipeline.ErrUnsupported) {
			// The run itself failed, not the input: the session may be
			// broken (out of memory, say); never run the next job on it.
			w.p.Generators.Discard(model, gpu, gen)
		}
		return nil, runTime{}, permanent(fmt.Errorf("generate: %w", err))
	}
	return out, runTime{t0, time.Now(), len(group)}, nil
}

// keepImages hands each delivery its images and the run's timing.
func (w *Worker) keepImages(group []*delivery, out [][]imageOut, took runTime) {
	inference := job.Millis(took.end.Sub(took.start))
	for i, d := range group {
		d.images = out[i]
		d.stages.InferenceMS = inference
		d.stages.BatchSize = took.batch
		tracing.Stage(d.trace, "inference", took.start, took.end, attribute.Int("batch_size", took.batch), attribute.String("model", d.spec.Model))
	}
}

func (w *Worker) endAll(group []*delivery, err error) {
	for _, d := range group {
		w.end(d, err)
	}
}

// runGroup runs a group through its generator. A panic in a generator (a
// bug, or an input it did not expect) fails this group's jobs with the
// reason; it never takes the runner and its other jobs down.
func runGroup(ctx context.Context, gen pipeline.Generator, specs []job.Spec, progress pipeline.Progress) (out [][]imageOut, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, permanent(fmt.Errorf("generator panicked: %v", p))
		}
	}()
	return pipeline.GenerateAll(ctx, gen, specs, progress)
}

// groupContext ends when every delivery of the group has ended (abandoned,
// cancelled, gone stale) or the runner stops: a shared model run is
// terminated only when nobody needs its result. A group of one uses the
// delivery's own context.
func groupContext(parent context.Context, group []*delivery) (context.Context, func()) {
	if len(group) == 1 {
		return group[0].ctx, func() {}
	}
	ctx, cancel := context.WithCancel(parent)
	go func() {
		for _, d := range group {
			select {
			case <-d.ctx.Done():
			case <-ctx.Done():
				return
			}
		}
		cancel()
	}()
	return ctx, cancel
}
