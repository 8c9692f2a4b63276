package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
)

// delivery is one JetStream delivery of one job, as this runner holds it.
type delivery struct {
	msg       jetstream.Msg
	work      job.Work
	id        job.Delivery // which delivery this is: the fence token
	delivered int          // JetStream's delivery count, against MaxDeliver
	attempt   int          // the record's attempt number, once claimed
	claimed   atomic.Bool  // the record names this delivery (keepAlive reads it)
	log       *zap.Logger
	stages    job.Stages

	// ctx ends the work on this delivery: on abandon, on losing the fence,
	// or when the runner stops. Its cause says which.
	ctx    context.Context
	cancel context.CancelCauseFunc
	ended  chan struct{}
}

// process runs one delivery to its end.
func (w *Worker) process(msg jetstream.Msg) outcome {
	w.busy.Add(1)
	defer w.busy.Add(-1)
	meta, err := msg.Metadata()
	if err != nil {
		w.log.Error("job metadata", zap.Error(err))
		_ = msg.Term()
		return outcomeDone
	}
	d := &delivery{msg: msg, delivered: int(meta.NumDelivered), ended: make(chan struct{})}
	d.id = job.Delivery{StreamSeq: meta.Sequence.Stream, Delivered: d.delivered, Runner: w.p.Runner,
		StartedAt: time.Now().UTC(), AckSubject: msg.Reply()}
	if err := json.Unmarshal(msg.Data(), &d.work); err != nil || d.work.JobID == "" {
		w.log.Error("unreadable work message; terminating it", zap.Uint64("stream_seq", meta.Sequence.Stream), zap.Error(err))
		_ = msg.TermWithReason("unreadable work message")
		return outcomeDone
	}
	d.log = w.log.With(zap.String("job_id", d.work.JobID), zap.String("delivery", d.id.Token()))
	d.ctx, d.cancel = context.WithCancelCause(w.workCtx)
	w.track(d)
	defer w.untrack(d)

	stopKeepAlive := w.keepAlive(d)
	err = w.execute(d)
	stopKeepAlive()
	return w.finish(d, err)
}

// keepAlive sends in-progress acks well inside AckWait until stopped. Before
// each one it checks the record still names this delivery: a runner that
// was frozen and resumed must not extend a delivery that is no longer its
// own (the server matches acks by stream sequence, so its +WPI would keep
// the new holder's delivery alive instead).
func (w *Worker) keepAlive(d *delivery) (stop func()) {
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTicker(w.p.Settings.ProgressInterval())
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if d.claimed.Load() && !w.stillOwns(d) {
					d.log.Warn("delivery no longer ours; stopping work on it")
					d.cancel(errStale)
					return
				}
				if err := d.msg.InProgress(); err != nil {
					d.log.Warn("in-progress ack", zap.Error(err))
				}
			}
		}
	}()
	return func() { close(done); <-exited }
}

// stillOwns reads the record to check the fence. When the record cannot be
// read it assumes ownership: losing a heartbeat is worse than sending one.
func (w *Worker) stillOwns(d *delivery) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rec, _, err := w.p.Store.Get(ctx, d.work.JobID)
	if err != nil {
		return !errors.Is(err, jobstore.ErrNotFound)
	}
	return w.owns(&rec, d)
}

// execute does the job; on success the record is completed and the message
// acked. Errors say what finish should do.
func (w *Worker) execute(d *delivery) error {
	ctx := d.ctx
	rec, err := w.p.Store.Update(ctx, d.work.JobID, func(r *job.Record) error {
		if r.Status.Terminal() {
			return errAlreadyDone
		}
		now := time.Now()
		r.Status = job.StatusProcessing
		r.Attempts++
		r.Runner = w.p.Runner
		r.Error = nil
		r.Delivery = &d.id
		if r.StartedAt == nil {
			r.StartedAt = job.UTC(now)
		}
		r.Stages = job.Stages{QueueWaitMS: job.Millis(now.Sub(r.CreatedAt))}
		return nil
	})
	switch {
	case errors.Is(err, errAlreadyDone):
		return errAlreadyDone
	case errors.Is(err, jobstore.ErrNotFound):
		return permanent(fmt.Errorf("job %s has no record", d.work.JobID))
	case err != nil:
		return fmt.Errorf("mark processing: %w", err)
	}
	d.attempt = rec.Attempts
	d.claimed.Store(true)
	d.stages = rec.Stages
	spec := rec.Spec
	w.emit(d, job.StatusProcessing, 0, spec.Steps, "")

	keys, err := w.produce(ctx, d, spec)
	if err != nil {
		return err
	}
	if err := w.complete(ctx, d, keys); err != nil {
		return err
	}
	ackCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.msg.DoubleAck(ackCtx); err != nil {
		// The record is completed; a redelivery finds it so and acks.
		d.log.Warn("ack not confirmed; a redelivery will ack it", zap.Error(err))
	}
	w.emit(d, job.StatusCompleted, spec.Steps, spec.Steps, "")
	w.done.Add(1)
	d.log.Info("job completed", zap.Int("attempt", d.attempt), zap.Strings("images", keys), zap.Float64("inference_ms", d.stages.InferenceMS),
		zap.Float64("encode_ms", d.stages.EncodeMS), zap.Float64("upload_ms", d.stages.UploadMS))
	return nil
}

// produce returns the job's image keys, generating and uploading them
// unless an earlier attempt already stored all of them.
func (w *Worker) produce(ctx context.Context, d *delivery, spec job.Spec) ([]string, error) {
	keys, ok, err := w.p.Images.Existing(ctx, d.work.JobID, spec.NumImages)
	if err != nil {
		return nil, err
	}
	if ok {
		d.log.Info("images already stored by an earlier attempt; not generating again")
		return keys, nil
	}
	gen, err := w.p.Generators.For(spec.Model)
	if err != nil {
		return nil, permanent(fmt.Errorf("model %s: %w", spec.Model, err))
	}
	t0 := time.Now()
	images, err := gen.Generate(ctx, spec, func(step, total int) {
		w.emit(d, job.StatusProcessing, step, total, "")
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, permanent(fmt.Errorf("generate: %w", err))
	}
	d.stages.InferenceMS = job.Millis(time.Since(t0))
	keys = make([]string, len(images))
	var encode, upload time.Duration
	for i, img := range images {
		t1 := time.Now()
		data, err := w.p.Encoder.EncodeRGB(img.Width, img.Height, img.RGB)
		if err != nil {
			return nil, permanent(err)
		}
		t2 := time.Now()
		if keys[i], err = w.p.Images.Put(ctx, d.work.JobID, i, spec, data); err != nil {
			return nil, err
		}
		encode += t2.Sub(t1)
		upload += time.Since(t2)
	}
	d.stages.EncodeMS, d.stages.UploadMS = job.Millis(encode), job.Millis(upload)
	return keys, nil
}

// complete moves the record to completed, fenced on this delivery: if the
// job was handed to another delivery meanwhile, nothing is written.
func (w *Worker) complete(ctx context.Context, d *delivery, keys []string) error {
	_, err := w.p.Store.Update(ctx, d.work.JobID, func(r *job.Record) error {
		if !w.owns(r, d) {
			return errStale
		}
		r.Status = job.StatusCompleted
		r.Images = keys
		r.CompletedAt = job.UTC(time.Now())
		r.Stages = d.stages
		return nil
	})
	if err != nil && !errors.Is(err, errStale) {
		return fmt.Errorf("mark completed: %w", err)
	}
	return err
}

// owns is the fence: the record is processing under this very delivery.
func (w *Worker) owns(r *job.Record, d *delivery) bool {
	return r.Status == job.StatusProcessing && r.Delivery.Same(&d.id)
}

// emit publishes a progress event; losing one is harmless.
func (w *Worker) emit(d *delivery, status job.Status, step, total int, message string) {
	data, _ := json.Marshal(bus.ProgressEvent{
		JobID: d.work.JobID, Status: string(status), Step: step, TotalSteps: total,
		Runner: w.p.Runner, Attempt: d.attempt, Delivery: d.id.Token(), At: time.Now().UTC(), Message: message,
	})
	if err := w.p.NC.Publish(bus.EventSubject(d.work.JobID), data); err != nil {
		d.log.Debug("progress event", zap.Error(err))
	}
}
