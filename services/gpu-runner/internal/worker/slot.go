package worker

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// slot runs one job (or one batch) at a time: it pulls only when free, so
// no job waits in a local buffer while its AckWait runs.
type slot struct {
	w   *Worker
	log *zap.Logger
	gpu *int // the slot's CUDA device; nil for the CPU
	// Set by end() when a delivery of this slot failed transiently or was
	// taken away; the slot settles before it pulls again.
	needProbe   atomic.Bool
	needCooloff atomic.Bool
	// posts carries batches whose images are ready to the poster; its
	// capacity bounds the work waiting for upload to one batch.
	posts      chan []*delivery
	posterDone chan struct{}
	// preferred is the model that last had work (it is likely loaded),
	// an index in Params.Models; last is the queue the last pull took from.
	preferred int
	last      int
	// late carries what background waits on several queues bring;
	// waiting marks the queues with a wait open.
	late    chan lateResult
	waiting []bool
}

func (w *Worker) slotLoop(id int) {
	defer w.wg.Done()
	s := &slot{w: w, log: w.log.With(zap.Int("slot", id)), late: make(chan lateResult, len(w.queues)), waiting: make([]bool, len(w.queues))}
	defer s.drainLate()
	if id < len(w.p.SlotGPUs) {
		s.gpu = w.p.SlotGPUs[id]
	}
	if w.p.Overlap {
		s.posts = make(chan []*delivery, 1)
		s.posterDone = make(chan struct{})
		go s.poster()
		defer func() { close(s.posts); <-s.posterDone }()
	}
	var ahead []*delivery
	for {
		if w.isStopping() {
			s.handBack(ahead)
			return
		}
		if w.gate.held() && len(ahead) > 0 {
			// Quarantined or drained: jobs taken ahead have not started;
			// another runner takes them now.
			s.handBack(ahead)
			ahead = nil
		}
		batch := ahead
		ahead = nil
		if len(batch) == 0 {
			s.settle()
			if w.isStopping() {
				return
			}
			batch = s.fetch()
			if w.gate.held() && len(batch) > 0 {
				// Held while this pull waited (drained, quarantined): the
				// jobs have not started; another runner takes them now.
				s.handBack(batch)
				continue
			}
		}
		var next <-chan []*delivery
		if w.p.Prefetch && len(batch) > 0 && !w.gate.held() {
			next = s.prefetch()
		}
		ready := w.infer(batch)
		if next != nil {
			ahead = <-next
		}
		switch {
		case len(ready) == 0:
		case s.posts != nil:
			s.posts <- ready
		default:
			w.postAll(ready)
		}
	}
}

// prefetch takes, without waiting, what is already queued for this slot's
// model while the current inference runs, so the next inference starts
// with no fetch in between; its classes are asked by weight, as every pull
// asks them (takeNow). Only work that is already there is taken: a
// pull held open during the inference could catch a job the supervisor
// just took away from this very runner. Prefetched jobs are kept alive
// with in-progress acks while they wait, but not claimed: their record
// stays queued until their run begins (infer claims them), so waiting
// behind a long job never counts as processing and the watchdog cannot
// judge a job stalled before it has started. A job a background wait of
// an earlier pull brought meanwhile comes first, with no fetch: it is held
// already, and while prefetching keeps finding work no pull would ever
// take it.
func (s *slot) prefetch() <-chan []*delivery {
	out := make(chan []*delivery, 1)
	if late := s.takeLate(); len(late) > 0 {
		out <- late
		return out
	}
	model := s.preferred
	go func() {
		ds, _ := s.takeNow(model, s.w.p.MaxBatch)
		out <- ds
	}()
	return out
}

// handBack returns prefetched, unstarted jobs when the runner stops, so
// another runner takes them at once.
func (s *slot) handBack(ds []*delivery) {
	for _, d := range ds {
		s.w.end(d, errHandBack)
	}
}

func (s *slot) poster() {
	defer close(s.posterDone)
	for ready := range s.posts {
		s.w.postAll(ready)
	}
}

// settle waits out what the last deliveries asked for: a dependency to
// recover, or a cool-off after a job was taken away; and, while the runner
// is quarantined, its reload.
func (s *slot) settle() {
	if s.needProbe.Swap(false) {
		s.w.waitHealthy(s.log)
	}
	if s.needCooloff.Swap(false) {
		s.log.Info("job taken away from this slot; cooling off before pulling again", zap.Duration("cooloff", s.w.p.AbandonCooloff))
		s.w.pause(s.w.p.AbandonCooloff)
	}
	if s.w.gate.held() {
		if s.w.gate.heldFor(holdQuarantine) {
			s.log.Info("runner quarantined; pulling no work until its model reload succeeds")
		} else {
			s.log.Info("runner drained; pulling no work until undrained")
		}
		// What waits opened before the hold bring goes back to the queue.
		s.drainLate()
		select {
		case <-s.w.gate.opened():
		case <-s.w.stopping:
			return
		}
	}
}

// fetch pulls one job, then, when batching, up to MaxBatch-1 more: those
// of the same model queued now (its classes asked by weight), and what
// arrives within BatchWindow on the queue the first came from.
func (s *slot) fetch() []*delivery {
	w := s.w
	ds := s.pull(w.p.FetchWait)
	if len(ds) == 1 && w.p.MaxBatch > 1 && !w.isStopping() {
		// More of the same model only: a batch never mixes models.
		more, _ := s.takeNow(s.preferred, w.p.MaxBatch-1)
		if rest := w.p.MaxBatch - 1 - len(more); rest > 0 {
			more = append(more, s.receiveAll(s.fetchFrom(w.queues[s.last].cons, rest, w.p.BatchWindow, false))...)
		}
		ds = append(ds, more...)
	}
	return ds
}

func (s *slot) receiveAll(msgs []jetstream.Msg) []*delivery {
	var out []*delivery
	for _, m := range msgs {
		if d := s.w.receive(m, s); d != nil {
			out = append(out, d)
		}
	}
	return out
}

// pull takes one job. It asks each model without waiting, starting with
// the one that last had work (its model is likely loaded), and each
// model's priority classes by weight (takeNow); when all are empty it
// waits on every queue that has no wait open yet and takes whatever comes
// first, so new work of any model and class starts at once. The other
// waits go on in the background: what they bring is received at once
// (kept alive with in-progress acks) and taken by the next pull, at most
// one job per queue, so a class can overtake another by that much.
func (s *slot) pull(wait time.Duration) []*delivery {
	if ds := s.takeLate(); len(ds) > 0 {
		return ds
	}
	models := len(s.w.p.Models)
	for i := range models {
		m := (s.preferred + i) % models
		if ds, q := s.takeNow(m, 1); q >= 0 {
			s.preferred, s.last = m, q
			return ds
		}
	}
	for i, q := range s.w.queues {
		if s.waiting[i] {
			continue
		}
		s.waiting[i] = true
		go func() { s.late <- lateResult{i, s.receiveAll(s.fetchFrom(q.cons, 1, wait, false))} }()
	}
	for s.anyWaiting() {
		r := <-s.late
		s.waiting[r.queue] = false
		if len(r.ds) > 0 {
			s.preferred, s.last = s.w.queues[r.queue].model, r.queue
			return r.ds
		}
	}
	return nil
}

// lateResult is what a background wait on one queue brought.
type lateResult struct {
	queue int
	ds    []*delivery
}

func (s *slot) anyWaiting() bool {
	for _, w := range s.waiting {
		if w {
			return true
		}
	}
	return false
}

// takeLate collects what background waits brought since, without waiting.
func (s *slot) takeLate() []*delivery {
	var out []*delivery
	for s.anyWaiting() {
		select {
		case r := <-s.late:
			s.waiting[r.queue] = false
			if len(out) == 0 && len(r.ds) > 0 {
				s.preferred, s.last = s.w.queues[r.queue].model, r.queue
			}
			out = append(out, r.ds...)
		default:
			return out
		}
	}
	return out
}

// drainLate waits for the background waits to end and hands back what they
// brought: the slot is stopping.
func (s *slot) drainLate() {
	for s.anyWaiting() {
		r := <-s.late
		s.waiting[r.queue] = false
		s.handBack(r.ds)
	}
}

func (s *slot) fetchFrom(cons jetstream.Consumer, n int, wait time.Duration, noWait bool) []jetstream.Msg {
	var batch jetstream.MessageBatch
	var err error
	if noWait {
		batch, err = cons.FetchNoWait(n)
	} else {
		batch, err = cons.Fetch(n, jetstream.FetchMaxWait(wait))
	}
	name := cons.CachedInfo().Name
	if err != nil {
		s.fetchFailed(name, err)
		return nil
	}
	var msgs []jetstream.Msg
	for m := range batch.Messages() {
		msgs = append(msgs, m)
	}
	if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) &&
		!errors.Is(err, jetstream.ErrNoMessages) {
		s.fetchFailed(name, err)
		return msgs
	}
	s.w.consumers.up(name)
	return msgs
}

// fetchFailed notes a failed pull and waits a moment. A consumer that is
// gone (deleted by hand, lost with a node) answers with no responders:
// the runner is not ready until the provision step brings it back, and
// the same consumer handle pulls again then.
func (s *slot) fetchFailed(consumer string, err error) {
	if errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrConsumerNotFound) {
		s.w.consumers.down(consumer, err)
	} else {
		s.log.Warn("fetch", zap.Error(err))
	}
	s.w.pause(time.Second)
}

func (w *Worker) isStopping() bool {
	select {
	case <-w.stopping:
		return true
	default:
		return false
	}
}
