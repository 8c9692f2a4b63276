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
	// Set by end() when a delivery of this slot failed transiently or was
	// taken away; the slot settles before it pulls again.
	needProbe   atomic.Bool
	needCooloff atomic.Bool
	// posts carries deliveries whose images are ready to the poster; its
	// capacity bounds the work waiting for upload to one batch.
	posts      chan *delivery
	posterDone chan struct{}
}

func (w *Worker) slotLoop(id int) {
	defer w.wg.Done()
	s := &slot{w: w, log: w.log.With(zap.Int("slot", id))}
	if w.p.Overlap {
		s.posts = make(chan *delivery, w.p.MaxBatch)
		s.posterDone = make(chan struct{})
		go s.poster()
		defer func() { close(s.posts); <-s.posterDone }()
	}
	for {
		if w.isStopping() {
			return
		}
		s.settle()
		if w.isStopping() {
			return
		}
		batch := s.fetch()
		for _, d := range w.infer(batch) {
			if s.posts != nil {
				s.posts <- d
			} else {
				w.post(d)
			}
		}
	}
}

func (s *slot) poster() {
	defer close(s.posterDone)
	for d := range s.posts {
		s.w.post(d)
	}
}

// settle waits out what the last deliveries asked for: a dependency to
// recover, or a cool-off after a job was taken away.
func (s *slot) settle() {
	if s.needProbe.Swap(false) {
		s.w.waitHealthy(s.log)
	}
	if s.needCooloff.Swap(false) {
		s.log.Info("job taken away from this slot; cooling off before pulling again", zap.Duration("cooloff", s.w.p.AbandonCooloff))
		s.w.pause(s.w.p.AbandonCooloff)
	}
}

// fetch pulls one job, then, when batching, up to MaxBatch-1 more that
// arrive within BatchWindow.
func (s *slot) fetch() []*delivery {
	w := s.w
	msgs := s.pull(1, w.p.FetchWait)
	if len(msgs) == 1 && w.p.MaxBatch > 1 && !w.isStopping() {
		msgs = append(msgs, s.pull(w.p.MaxBatch-1, w.p.BatchWindow)...)
	}
	var out []*delivery
	for _, m := range msgs {
		if d := w.receive(m, s); d != nil {
			out = append(out, d)
		}
	}
	return out
}

func (s *slot) pull(n int, wait time.Duration) []jetstream.Msg {
	batch, err := s.w.cons.Fetch(n, jetstream.FetchMaxWait(wait))
	if err != nil {
		s.log.Warn("fetch", zap.Error(err))
		s.w.pause(time.Second)
		return nil
	}
	var msgs []jetstream.Msg
	for m := range batch.Messages() {
		msgs = append(msgs, m)
	}
	if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) {
		s.log.Warn("fetch", zap.Error(err))
		s.w.pause(time.Second)
	}
	return msgs
}

func (w *Worker) isStopping() bool {
	select {
	case <-w.stopping:
		return true
	default:
		return false
	}
}
