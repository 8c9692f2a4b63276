package worker

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

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
	spec      job.Spec     // from the record, once claimed
	record    job.Record   // as this delivery last wrote it, at rev (0: unknown)
	rev       uint64
	log       *zap.Logger
	stages    job.Stages
	images    []imageOut // generated, waiting for encode and upload
	keys      []string   // stored image keys, once known

	// ctx ends the work on this delivery: on abandon, cancel, losing the
	// fence, or when the runner stops. Its cause says which.
	ctx           context.Context
	cancel        context.CancelCauseFunc
	stopKeepAlive func()
	ended         chan struct{}
	slot          *slot
}

// receive turns a fetched message into a delivery this runner holds, kept
// alive with in-progress acks from now on. Unreadable messages are
// terminated and yield nil.
func (w *Worker) receive(msg jetstream.Msg, s *slot) *delivery {
	meta, err := msg.Metadata()
	if err != nil {
		w.log.Error("job metadata", zap.Error(err))
		_ = msg.Term()
		return nil
	}
	d := &delivery{msg: msg, slot: s, delivered: int(meta.NumDelivered), ended: make(chan struct{})}
	d.id = job.Delivery{StreamSeq: meta.Sequence.Stream, Delivered: d.delivered, Runner: w.p.Runner,
		StartedAt: w.p.Clock().UTC(), AckSubject: msg.Reply()}
	if err := json.Unmarshal(msg.Data(), &d.work); err != nil || d.work.JobID == "" {
		w.log.Error("unreadable work message; terminating it", zap.Uint64("stream_seq", meta.Sequence.Stream), zap.Error(err))
		_ = msg.TermWithReason("unreadable work message")
		return nil
	}
	d.log = w.log.With(zap.String("job_id", d.work.JobID), zap.String("delivery", d.id.Token()))
	d.ctx, d.cancel = context.WithCancelCause(w.workCtx)
	w.busy.Add(1)
	w.track(d)
	d.stopKeepAlive = w.keepAlive(d)
	return d
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

// owns is the fence: the record is processing under this very delivery.
func (w *Worker) owns(r *job.Record, d *delivery) bool {
	return r.Status == job.StatusProcessing && r.Delivery.Same(&d.id)
}
