package worker

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
)

// queue is one consumer the runner pulls from: one priority class of one
// served model's work (bus.ClassConsumer).
type queue struct {
	model int // index in Params.Models
	class job.Priority
	cons  jetstream.Consumer
}

// bindQueues binds the consumers of every class of every served model.
func (w *Worker) bindQueues(ctx context.Context) error {
	for i, model := range w.p.Models {
		classes := map[job.Priority]int{}
		for _, p := range job.Priorities() {
			name := bus.ClassConsumer(model, p)
			cons, err := w.p.JS.Consumer(ctx, bus.StreamJobs, name)
			if err != nil {
				return fmt.Errorf("consumer %s: %w", name, err)
			}
			classes[p] = len(w.queues)
			w.queues = append(w.queues, queue{model: i, class: p, cons: cons})
		}
		w.classes = append(w.classes, classes)
	}
	return nil
}

// takeNow takes up to n jobs of a model that are queued now, without
// waiting: it asks the model's classes in an order drawn by weight
// (job.PullOrder: high 6, normal 3, low 1) and takes from the first that
// has work, so higher classes go first without starving the others. It
// returns what it took and the queue it came from (-1: none had work).
func (s *slot) takeNow(model, n int) ([]*delivery, int) {
	w := s.w
	for _, p := range job.PullOrder(w.p.Rand) {
		q := w.classes[model][p]
		msgs := s.fetchFrom(w.queues[q].cons, n, 0, true)
		if len(msgs) > 0 {
			return s.receiveAll(msgs), q
		}
	}
	return nil, -1
}
