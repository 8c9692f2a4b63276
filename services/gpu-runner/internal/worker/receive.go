package worker

import (
	"context"
	"sync/atomic"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/tracing"
)

// delivery is one JetStream delivery of one job, as this runner holds it.
type delivery struct {
	msg       jetstream.Msg
	work      bus.Work
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
	// uploadTry is the upload try this delivery writes under: each try
	// writes under keys of its own (s3layout.ImageKeyAt), moved on by a
	// failed try that may have reached a node (nextUploadTry), and stored
	// keeps the images a try did store, so the next one skips them.
	uploadTry int
	stored    []string
	events    progressEvents
	// reached is the latest step and its total (step<<32 | total), for
	// the heartbeat: every step, not only those whose events went out.
	reached atomic.Int64

	// ctx ends the work on this delivery: on abandon, cancel, losing the
	// fence, or when the runner stops. Its cause says which.
	ctx           context.Context
	cancel        context.CancelCauseFunc
	stopKeepAlive func()
	ended         chan struct{}
	slot          *slot

	// trace is the job's trace once claimed (the runner.job span's
	// context: the stages' spans go under it), span that span; traceFrom
	// is the trace context the work message carried.
	trace     context.Context
	span      trace.Span
	traceFrom context.Context
}

// receive turns a fetched message into a delivery this runner holds, kept
// alive with in-progress acks from now on. Unreadable messages are
// terminated and yield nil.
func (w *Worker) receive(msg jetstream.Msg, s *slot) *delivery {
	meta, err := msg.Metadata()
	if err != nil {
		w.log.Error("job metadata", zap.Error(err))
		w.reject(msg, "work message without metadata")
		return nil
	}
	d := &delivery{msg: msg, slot: s, delivered: int(meta.NumDelivered), ended: make(chan struct{})}
	d.events.interval = w.p.StepEventInterval
	d.id = job.Delivery{StreamSeq: meta.Sequence.Stream, Delivered: d.delivered, Runner: w.p.Runner, Boot: w.p.Boot,
		StartedAt: w.p.Clock().UTC(), AckSubject: msg.Reply()}
	work, err := bus.DecodeWork(msg.Data())
	if err != nil {
		w.p.Drops.Note("junk:work", msg.Subject(), err)
		w.reject(msg, "unreadable work message")
		return nil
	}
	d.work = work
	d.traceFrom = tracing.Extract(context.Background(), msg.Headers())
	d.trace = d.traceFrom
	if d.delivered > 1 {
		w.p.Observer.Redelivered(work.Spec.Model)
	}
	d.log = w.log.With(append(tracing.LogFields(d.traceFrom), zap.String("job_id", d.work.JobID), zap.String("delivery", d.id.Token()))...)
	d.ctx, d.cancel = context.WithCancelCause(w.workCtx)
	w.busy.Add(1)
	w.track(d)
	d.stopKeepAlive = w.keepAlive(d)
	return d
}
