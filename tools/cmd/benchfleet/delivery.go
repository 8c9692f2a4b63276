package main

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/png"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/s3layout"
)

// fleetModel is the one model the emulated fleet serves.
const fleetModel = "demo"

var (
	errTakenAway = errors.New("taken away by the supervisor")
	errStale     = errors.New("the record names another delivery")
)

// delivery is one JetStream delivery of a job, held by an emulated runner.
type delivery struct {
	msg     jetstream.Msg
	work    bus.Work
	id      job.Delivery // the fence token
	stored  time.Time    // when the work was stored in the stream
	waiting bool         // a slot was waiting in a pull when it was stored
	claimed atomic.Bool
	reached atomic.Int64 // step<<32 | total, for the heartbeat
	ctx     context.Context
	cancel  context.CancelCauseFunc
	kept    chan struct{} // closed when keepAlive has returned
}

// stopKeepAlive ends the in-progress acks and waits for the last one, as
// the runner does before it decides a delivery's fate: an in-progress ack
// after the ack would be refused.
func (d *delivery) stopKeepAlive(cause error) {
	d.cancel(cause)
	<-d.kept
}

func (d *delivery) heldJob() bus.HeldJob {
	r := d.reached.Load()
	return bus.HeldJob{JobID: d.work.JobID, Delivery: d.id.Token(), Step: int(r >> 32), TotalSteps: int(uint32(r)), AckSubject: d.id.AckSubject}
}

// slot pulls one job at a time while free; while it runs one, it takes the
// next if one is already queued (the runner's prefetch).
func (r *fleetRunner) slot(ctx context.Context) {
	q := &slotQueues{late: make(chan lateResult, len(r.queues)), waiting: make([]bool, len(r.queues))}
	var ahead *delivery
	for ctx.Err() == nil {
		d := ahead
		ahead = nil
		if d == nil {
			if d = r.pull(ctx, q); d == nil {
				continue
			}
		}
		next := make(chan *delivery, 1)
		if r.p.prefetch {
			go func() { next <- r.takeNow(ctx, kindPrefetch) }()
		} else {
			next <- nil
		}
		r.work(ctx, d)
		ahead = <-next
	}
	if ahead != nil {
		r.end(ahead, errHandBack)
	}
	for q.anyWaiting() {
		res := <-q.late
		q.waiting[res.queue] = false
		if res.d != nil {
			q.brought = append(q.brought, res.d)
		}
	}
	for _, d := range q.brought {
		r.end(d, errHandBack)
	}
}

var (
	errHandBack = errors.New("runner stopping")
	errEnded    = errors.New("delivery ended")
)

// slotQueues are a slot's waits open on its queues (one per class), and
// what the waits brought.
type slotQueues struct {
	late    chan lateResult
	waiting []bool
	brought []*delivery // jobs the waits brought, not yet taken
}

type lateResult struct {
	queue int
	d     *delivery
}

// takeLate collects what the waits brought since, without waiting, and
// returns one job of it; the others stay for the next pulls.
func (q *slotQueues) takeLate() *delivery {
	for q.anyWaiting() {
		select {
		case res := <-q.late:
			q.waiting[res.queue] = false
			if res.d != nil {
				q.brought = append(q.brought, res.d)
			}
			continue
		default:
		}
		break
	}
	if len(q.brought) == 0 {
		return nil
	}
	d := q.brought[0]
	q.brought = q.brought[1:]
	return d
}

func (q *slotQueues) anyWaiting() bool {
	for _, w := range q.waiting {
		if w {
			return true
		}
	}
	return false
}

// pull takes one job as the runner does since priorities: what earlier
// waits brought; else the classes asked without waiting, in an order drawn
// by weight (job.PullOrder); else a wait opened on every queue that has
// none open, taking the first job any brings (the other waits go on, and
// what they bring is held for the next pull).
func (r *fleetRunner) pull(ctx context.Context, q *slotQueues) *delivery {
	if d := q.takeLate(); d != nil {
		d.waiting = false // it waited here while the slot ran another job
		return d
	}
	if d := r.takeNow(ctx, kindPullNow); d != nil {
		return d
	}
	for i, cons := range r.queues {
		if q.waiting[i] {
			continue
		}
		q.waiting[i] = true
		go func() { q.late <- lateResult{i, r.fetch(ctx, cons, true)} }()
	}
	for q.anyWaiting() {
		res := <-q.late
		q.waiting[res.queue] = false
		if res.d != nil {
			return res.d
		}
	}
	return nil
}

// takeNow asks the classes without waiting, in an order drawn by weight,
// and takes from the first that has work; k counts the asks.
func (r *fleetRunner) takeNow(ctx context.Context, k kind) *delivery {
	r.rngMu.Lock()
	order := job.PullOrder(r.rng.IntN)
	r.rngMu.Unlock()
	for _, p := range order {
		r.c.add(k)
		if d := r.fetch(ctx, r.queues[r.classes[p]], false); d != nil {
			return d
		}
	}
	return nil
}

// fetch pulls one job from one queue: waiting up to fetchWait, or not.
func (r *fleetRunner) fetch(ctx context.Context, cons jetstream.Consumer, wait bool) *delivery {
	began := time.Now()
	var batch jetstream.MessageBatch
	var err error
	if wait {
		r.c.add(kindPull)
		batch, err = cons.Fetch(1, jetstream.FetchMaxWait(r.p.fetchWait))
	} else {
		batch, err = cons.FetchNoWait(1)
	}
	if err != nil {
		r.c.failed(r.name+": pull", err)
		sleepCtx(ctx, time.Second)
		return nil
	}
	var d *delivery
	for m := range batch.Messages() {
		d = r.receive(ctx, m, wait, began)
	}
	// A pull the server refused (409: too many waiting, say) ends with an
	// error here, not from Fetch: counted, as the runner logs it.
	if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) &&
		!errors.Is(err, jetstream.ErrNoMessages) {
		r.c.failed(r.name+": pull", err)
		sleepCtx(ctx, time.Second)
	}
	return d
}

// receive makes a fetched message a delivery held here, kept alive from
// now on.
func (r *fleetRunner) receive(ctx context.Context, m jetstream.Msg, pulled bool, pullBegan time.Time) *delivery {
	meta, err := m.Metadata()
	if err != nil {
		_ = m.Term()
		return nil
	}
	work, err := bus.DecodeWork(m.Data())
	if err != nil {
		_ = m.TermWithReason("unreadable work message")
		return nil
	}
	d := &delivery{msg: m, work: work, stored: meta.Timestamp, waiting: pulled && meta.Timestamp.After(pullBegan),
		id: job.Delivery{StreamSeq: meta.Sequence.Stream, Delivered: int(meta.NumDelivered), Runner: r.name, Boot: r.boot,
			StartedAt: time.Now().UTC(), AckSubject: m.Reply()}}
	d.ctx, d.cancel = context.WithCancelCause(ctx)
	d.kept = make(chan struct{})
	r.track(d)
	go r.keepAlive(d)
	return d
}

// keepAlive sends an in-progress ack every third of AckWait until the
// delivery ends, reading the record first once claimed: a delivery that is
// no longer the record's stops (the fence).
func (r *fleetRunner) keepAlive(d *delivery) {
	defer close(d.kept)
	t := time.NewTicker(r.p.ackWait / 3)
	defer t.Stop()
	for {
		select {
		case <-d.ctx.Done():
			return
		case <-t.C:
		}
		if d.claimed.Load() {
			r.c.add(kindOwnerRead)
			ctx, cancel := context.WithTimeout(d.ctx, 5*time.Second)
			rec, _, err := r.store.Get(ctx, d.work.JobID)
			cancel()
			if err == nil && !rec.OwnedBy(&d.id) {
				d.cancel(errStale)
				return
			}
		}
		r.c.add(kindInProgress)
		if err := d.msg.InProgress(); err != nil {
			r.c.failed(d.work.JobID+": in-progress ack", err)
		}
	}
}

// work claims the delivery as its run begins, runs the steps, stores the
// images, completes the record (fenced) and acks.
func (r *fleetRunner) work(ctx context.Context, d *delivery) {
	mutate := func(rec *job.Record) error { return job.Claim(rec, d.id, time.Now()) }
	var rec job.Record
	var rev uint64
	var err error
	r.c.add(kindClaim)
	if d.work.Revision != 0 {
		rec, rev, err = r.store.UpdateFrom(d.ctx, d.work.QueuedRecord(), d.work.Revision, mutate)
	} else {
		rec, err = r.store.Update(d.ctx, d.work.JobID, mutate)
	}
	if err != nil {
		r.end(d, err)
		return
	}
	claimedAt := time.Now()
	d.claimed.Store(true)
	r.c.running.Add(1)
	defer r.c.running.Add(-1)
	r.c.claimed(claimSample{JobID: d.work.JobID, StoreNS: d.stored.UnixNano(), ClaimNS: claimedAt.UnixNano(), Waiting: d.waiting})

	spec := rec.Spec
	steps := max(spec.Steps, 1)
	ev := &stepEvents{interval: r.p.interval, send: r.sendEvent}
	event := func(status job.Status, step int) bus.ProgressEvent {
		return bus.ProgressEvent{JobID: d.work.JobID, Status: status, Step: step, TotalSteps: steps, Runner: r.name,
			Attempt: rec.Attempts, Delivery: d.id.Token(), At: time.Now().UTC()}
	}
	ev.begin(event(job.StatusProcessing, 0))
	stepTime := shapeOf(spec.Prompt) / time.Duration(steps)
	timer := time.NewTimer(stepTime)
	defer timer.Stop()
	for step := 1; step <= steps; step++ {
		select {
		case <-d.ctx.Done():
			ev.close()
			r.end(d, context.Cause(d.ctx))
			return
		case <-timer.C:
			timer.Reset(stepTime)
		}
		d.reached.Store(int64(step)<<32 | int64(steps))
		ev.step(event(job.StatusProcessing, step))
	}
	keys, err := r.putImages(d, spec)
	if err != nil {
		ev.close()
		r.end(d, err)
		return
	}
	stages := job.Stages{InferenceMS: job.Millis(time.Since(claimedAt)), BatchSize: 1}
	r.c.add(kindComplete)
	_, _, err = r.store.UpdateFrom(d.ctx, rec, rev, func(rec *job.Record) error {
		if job.Complete(rec, &d.id, keys, stages, time.Now()) != nil {
			return errStale
		}
		return nil
	})
	if err != nil {
		ev.close()
		r.end(d, err)
		return
	}
	r.c.completed(time.Now())
	d.stopKeepAlive(errEnded)
	r.c.add(kindAck)
	_ = d.msg.Ack()
	ev.final(event(job.StatusCompleted, steps))
	r.end(d, nil)
}

// pngImage is a tiny PNG (8×8, gray): what is PUT for each image when
// PUTs are on, so S3 sees one request per image without the bench paying
// for encoding.
var pngImage = func() []byte {
	var buf bytes.Buffer
	_ = png.Encode(&buf, image.NewGray(image.Rect(0, 0, 8, 8)))
	return buf.Bytes()
}()

// putImages stores the job's images (when PUTs are on) and returns their
// keys.
func (r *fleetRunner) putImages(d *delivery, spec job.Spec) ([]string, error) {
	keys := make([]string, max(spec.NumImages, 1))
	for i := range keys {
		keys[i] = s3layout.ImageKey(d.work.JobID, i)
		if r.s3 == nil {
			continue
		}
		r.c.add(kindPut)
		if _, err := r.s3.PutObject(d.ctx, r.bucket, keys[i], bytes.NewReader(pngImage), int64(len(pngImage)),
			minio.PutObjectOptions{ContentType: "image/png"}); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

// end decides the fate of a delivery that did not complete: a job that
// ended meanwhile is acked, one taken away or no longer ours is dropped
// without a word, anything else is handed back with a NAK.
func (r *fleetRunner) end(d *delivery, err error) {
	d.stopKeepAlive(errEnded)
	switch {
	case err == nil:
	case errors.Is(err, job.ErrEnded):
		r.c.add(kindAck)
		_ = d.msg.Ack()
	case errors.Is(err, errTakenAway), errors.Is(err, errStale):
	default:
		if !errors.Is(err, errHandBack) && !errors.Is(err, context.Canceled) {
			r.c.failed(d.work.JobID+": job handed back", err)
		}
		r.c.add(kindNak)
		_ = d.msg.NakWithDelay(time.Second)
	}
	r.untrack(d)
}

// sendEvent publishes one progress event on its job's subject.
func (r *fleetRunner) sendEvent(e bus.ProgressEvent) {
	r.c.add(kindEvent)
	if err := r.nc.Publish(bus.EventSubject(e.JobID), bus.EncodeProgressEvent(e)); err != nil {
		r.c.failed(e.JobID+": event", err)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
