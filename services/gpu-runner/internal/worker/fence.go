package worker

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
	"cyberimage/shared/lifecycle"
)

// The fence: a delivery may keep its message alive, write the record, or
// ack, NAK or terminate the message only while the record names it. The
// server matches acks by stream sequence, so a stale runner's ack would
// land on the newer delivery of the same message.

// keepAlive sends in-progress acks well inside AckWait until stopped. Before
// each one it checks the record still names this delivery: a runner that
// was frozen and resumed must not extend a delivery that is no longer its
// own (the server matches acks by stream sequence, so its +WPI would keep
// the new holder's delivery alive instead).
func (w *Worker) keepAlive(d *delivery) (stop func()) {
	var stale atomic.Bool
	loop := lifecycle.NewLoop(w.p.Settings.ProgressInterval(), func(context.Context) {
		if stale.Load() {
			return
		}
		if d.claimed.Load() && !w.stillOwns(d) {
			d.log.Warn("delivery no longer ours; stopping work on it")
			d.cancel(errStale)
			stale.Store(true)
			return
		}
		if err := d.msg.InProgress(); err != nil {
			d.log.Warn("in-progress ack", zap.Error(err))
		}
	})
	_ = loop.Start(context.Background())
	return func() { _ = loop.Stop(context.Background()) }
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
func (w *Worker) owns(r *job.Record, d *delivery) bool { return r.OwnedBy(&d.id) }

// mayAct reports whether this delivery may still ack, NAK or terminate its
// message: once claimed, only while the record names it; before that, as
// long as no newer delivery of the same message has claimed the record.
func (w *Worker) mayAct(d *delivery) bool {
	if d.claimed.Load() {
		return w.stillOwns(d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rec, _, err := w.p.Store.Get(ctx, d.work.JobID)
	if err != nil || rec.Delivery == nil {
		return true
	}
	newer := rec.Delivery.StreamSeq == d.id.StreamSeq && rec.Delivery.Delivered > d.id.Delivered
	return !newer
}
