package intake

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"cyberimage/shared/backoff"
	"cyberimage/shared/bus"
	"cyberimage/shared/lifecycle"
)

// binding keeps ingest bound to its consumer. When the consumer disappears
// (deleted by hand, lost with a node) the pull iterator would block
// forever, so a check every checkEvery notices, stops the iterator and
// binds again once the consumer is back (the provision step re-creates it;
// ingest may not). Meanwhile ingest is not ready.
type binding struct {
	js    jetstream.JetStream
	pull  int
	log   *zap.Logger
	stats *Stats

	bound   atomic.Bool
	mu      sync.Mutex
	iter    jetstream.MessagesContext
	stopped bool // drain ran: no new iterator may start
}

// checkEvery is how often the consumer's existence is checked.
const checkEvery = 2 * time.Second

// errDrained: Stop came while an iterator was being made.
var errDrained = errors.New("intake stopping")

// next blocks until it has an iterator on the consumer, or ctx ends (nil).
func (b *binding) next(ctx context.Context) jetstream.MessagesContext {
	attempts := 0
	wait := lifecycle.Policy{Backoff: backoff.Policy{Base: 250 * time.Millisecond, Max: 5 * time.Second, Jitter: 0.2},
		TryTimeout: 5 * time.Second,
		OnRetry: func(attempt int, err error, _ time.Duration) {
			if attempt == 1 {
				b.log.Warn("ingest consumer unavailable; not ready, binding again when it is back", zap.Error(err))
			}
		}}
	var iter jetstream.MessagesContext
	err := lifecycle.Retry(ctx, wait, func(ctx context.Context) error {
		attempts++
		var err error
		iter, err = b.bind(ctx)
		return err
	})
	if err != nil {
		return nil // stopping
	}
	b.bound.Store(true)
	if attempts > 1 {
		b.log.Info("bound to the ingest consumer again", zap.Int("attempts", attempts))
	}
	return iter
}

// bind makes one iterator on the consumer.
func (b *binding) bind(ctx context.Context) (jetstream.MessagesContext, error) {
	cons, err := b.js.Consumer(ctx, bus.StreamRequests, bus.ConsumerIngest)
	if err != nil {
		return nil, err
	}
	// Short pulls with frequent heartbeats: a pull left on a hung or
	// restarted NATS node is noticed in seconds (the defaults, 30 s and
	// 15 s, held ingest's intake for 30 s after a node froze: make
	// bench-recovery).
	iter, err := cons.Messages(jetstream.PullMaxMessages(b.pull), jetstream.PullExpiry(pullExpiry), jetstream.PullHeartbeat(pullHeartbeat))
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopped {
		// Stop came while this iterator was being made: it would block
		// forever, nobody being left to drain it.
		iter.Stop()
		return nil, lifecycle.Permanent(errDrained)
	}
	b.iter = iter
	return iter, nil
}

// lost marks the binding gone after its iterator ended.
func (b *binding) lost(err error) {
	if b.bound.Swap(false) {
		b.stats.Rebinds.Add(1)
		b.log.Warn("lost the ingest consumer; binding again", zap.Error(err))
	}
}

// check ends the iterator when the consumer is gone, which the iterator
// alone would not notice; it runs every checkEvery.
func (b *binding) check(ctx context.Context) {
	if !b.bound.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	_, err := b.js.Consumer(ctx, bus.StreamRequests, bus.ConsumerIngest)
	cancel()
	if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
		b.lost(err)
		b.mu.Lock()
		if b.iter != nil {
			b.iter.Stop()
		}
		b.mu.Unlock()
	}
}

// drain stops the current iterator, letting pulled messages finish.
func (b *binding) drain() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stopped = true
	if b.iter != nil {
		b.iter.Drain()
	}
}

// How long one pull for requests lasts and how often the server must show
// it is alive meanwhile.
const (
	pullExpiry    = 10 * time.Second
	pullHeartbeat = 2 * time.Second
)
