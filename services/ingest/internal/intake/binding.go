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

// next blocks until it has an iterator on the consumer, or stop closes
// (nil).
func (b *binding) next(stop <-chan struct{}) jetstream.MessagesContext {
	wait := backoff.Policy{Base: 250 * time.Millisecond, Max: 5 * time.Second, Jitter: 0.2}
	for attempt := 1; ; attempt++ {
		select {
		case <-stop:
			return nil
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		cons, err := b.js.Consumer(ctx, bus.StreamRequests, bus.ConsumerIngest)
		cancel()
		var iter jetstream.MessagesContext
		if err == nil {
			// Short pulls with frequent heartbeats: a pull left on a hung
			// or restarted NATS node is noticed in seconds (the defaults,
			// 30 s and 15 s, held ingest's intake for 30 s after a node
			// froze: make bench-recovery).
			iter, err = cons.Messages(jetstream.PullMaxMessages(b.pull), jetstream.PullExpiry(pullExpiry), jetstream.PullHeartbeat(pullHeartbeat))
		}
		if err == nil {
			b.mu.Lock()
			if b.stopped {
				// Stop came while this iterator was being made: it
				// would block forever, nobody being left to drain it.
				b.mu.Unlock()
				iter.Stop()
				return nil
			}
			b.iter = iter
			b.mu.Unlock()
			b.bound.Store(true)
			if attempt > 1 {
				b.log.Info("bound to the ingest consumer again", zap.Int("attempts", attempt))
			}
			return iter
		}
		if attempt == 1 {
			b.log.Warn("ingest consumer unavailable; not ready, binding again when it is back", zap.Error(err))
		}
		select {
		case <-stop:
			return nil
		case <-time.After(wait.Delay(attempt)):
		}
	}
}

// lost marks the binding gone after its iterator ended.
func (b *binding) lost(err error) {
	if b.bound.Swap(false) {
		b.stats.Rebinds.Add(1)
		b.log.Warn("lost the ingest consumer; binding again", zap.Error(err))
	}
}

// watch checks the consumer until stop closes and ends the iterator when
// the consumer is gone, which the iterator alone would not notice.
func (b *binding) watch(stop <-chan struct{}) {
	t := time.NewTicker(checkEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		if !b.bound.Load() {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
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
