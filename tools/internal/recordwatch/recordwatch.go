// Package recordwatch follows every write to the job record bucket from a
// watch started before the first job, so that checks such as "ran again"
// or "completed exactly once" are read from the history of writes (with
// the NATS server's time of each), not from the final state or from
// polling. The e2e tests and the recovery bench both count on it.
package recordwatch

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
)

// Watch is a running watch of the record bucket.
type Watch struct {
	kv   jetstream.KeyValue
	stop func()

	mu   sync.Mutex
	seen uint64 // the last revision taken in
}

// Start watches every write from now on. take is called, one write at a
// time in the bucket's order, with each record put and the server's time
// of that write; deletes and undecodable values are passed over.
func Start(ctx context.Context, store *jobstore.Store, take func(rec job.Record, at time.Time)) (*Watch, error) {
	ctx, cancel := context.WithCancel(ctx)
	w, err := store.KV().WatchAll(ctx)
	if err != nil {
		cancel()
		return nil, err
	}
	done := make(chan struct{})
	rw := &Watch{kv: store.KV(), stop: func() { cancel(); _ = w.Stop(); <-done }}
	go func() {
		defer close(done)
		for e := range w.Updates() {
			if e == nil {
				continue
			}
			if e.Operation() == jetstream.KeyValuePut {
				if rec, err := jobstore.Decode(e.Value()); err == nil {
					take(rec, e.Created())
				}
			}
			// Counted only once take has returned: CaughtUp then means
			// every write up to it has been taken in.
			rw.mu.Lock()
			rw.seen = max(rw.seen, e.Revision())
			rw.mu.Unlock()
		}
	}()
	return rw, nil
}

// Stop ends the watch and waits for its goroutine: take is not called
// after it returns.
func (w *Watch) Stop() { w.stop() }

// CaughtUp waits (up to limit) until the watch has taken in every write
// the bucket holds now: it runs behind KV, and a figure read right after a
// record changed could miss that very write. An error (the bucket's
// status unread, or limit passed first) means the watch has not caught
// up: what it took in is a partial history, not to be counted from.
func (w *Watch) CaughtUp(ctx context.Context, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	status, err := w.kv.Status(ctx)
	if err != nil {
		return fmt.Errorf("read the record bucket's status: %w", err)
	}
	bs, ok := status.(*jetstream.KeyValueBucketStatus)
	if !ok {
		return fmt.Errorf("the record bucket's status is a %T, without its stream's state", status)
	}
	last := bs.StreamInfo().State.LastSeq
	poll := time.NewTicker(5 * time.Millisecond)
	defer poll.Stop()
	for {
		w.mu.Lock()
		seen := w.seen
		w.mu.Unlock()
		if seen >= last {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the watch has not caught up: revision %d of %d taken in after %v: %w", seen, last, limit, ctx.Err())
		case <-poll.C:
		}
	}
}
