package worker

import (
	"context"
	"errors"
	"fmt"
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
// and for each group claims its deliveries right before generating their
// images, so a group waiting behind another is not yet processing. It
// returns, in order, the deliveries ready for upload; every other one has
// been ended.
func (w *Worker) infer(batch []*delivery) []*delivery {
	var ready []*delivery
	for _, group := range groupByKey(batch, func(d *delivery) job.Spec { return d.work.Spec }) {
		var todo []*delivery
		claims := w.claimAll(group)
		for i, d := range group {
			if err := claims[i]; err != nil {
				w.end(d, err)
				continue
			}
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
		// The record's spec is the one that runs; it matches the work
		// message's unless the record changed, so regroup on it.
		for _, g := range groupByKey(todo, func(d *delivery) job.Spec { return d.spec }) {
			if w.generate(g) {
				ready = append(ready, g...)
			}
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
// starts, so claim is called right before the model runs, never ahead.
func (w *Worker) claim(d *delivery) error {
	mutate := func(r *job.Record) error { return job.Claim(r, d.id, w.p.Clock()) }
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
	}
	d.attempt = rec.Attempts
	d.record, d.rev = rec, rev
	d.spec = rec.Spec
	d.stages = rec.Stages
	d.startSpan(rec)
	d.claimed.Store(true)
	w.emit(d, job.StatusProcessing, 0, d.spec.Steps, "")
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

// generate runs one group through its model and reports whether the images
// are ready; on failure every delivery of the group has been ended.
func (w *Worker) generate(group []*delivery) bool {
	gen, release, err := w.p.Generators.For(group[0].spec.Model, group[0].slot.gpu)
	if err != nil {
		for _, d := range group {
			w.end(d, permanent(fmt.Errorf("model %s: %w", d.spec.Model, err)))
		}
		return false
	}
	defer release()
	ctx, releaseCtx := groupContext(w.workCtx, group)
	defer releaseCtx()
	progress := func(step, total int) {
		for _, d := range group {
			w.emit(d, job.StatusProcessing, step, total, "")
		}
	}
	t0 := time.Now()
	out, err := runGroup(ctx, gen, group, progress)
	if err != nil {
		if ctx.Err() == nil && !errors.Is(err, pipeline.ErrUnsupported) {
			// The run itself failed, not the input: the session may be
			// broken (out of memory, say); never run the next job on it.
			w.p.Generators.Discard(group[0].spec.Model, group[0].slot.gpu, gen)
		}
		for _, d := range group {
			if ctx.Err() != nil {
				w.end(d, err)
			} else {
				w.end(d, permanent(fmt.Errorf("generate: %w", err)))
			}
		}
		return false
	}
	t1 := time.Now()
	inference := job.Millis(t1.Sub(t0))
	for i, d := range group {
		d.images = out[i]
		d.stages.InferenceMS = inference
		d.stages.BatchSize = len(group)
		tracing.Stage(d.trace, "inference", t0, t1, attribute.Int("batch_size", len(group)), attribute.String("model", d.spec.Model))
	}
	return true
}

// runGroup runs a group through its generator. A panic in a generator (a
// bug, or an input it did not expect) fails this group's jobs with the
// reason; it never takes the runner and its other jobs down.
func runGroup(ctx context.Context, gen pipeline.Generator, group []*delivery, progress pipeline.Progress) (out [][]imageOut, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, permanent(fmt.Errorf("generator panicked: %v", p))
		}
	}()
	if bg, ok := gen.(pipeline.BatchGenerator); ok && len(group) > 1 {
		specs := make([]job.Spec, len(group))
		for i, d := range group {
			specs[i] = d.spec
		}
		return bg.GenerateBatch(ctx, specs, progress)
	}
	out = make([][]imageOut, len(group))
	for i, d := range group {
		imgs, err := gen.Generate(ctx, d.spec, progress)
		if err != nil {
			return nil, err
		}
		out[i] = imgs
	}
	return out, nil
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
