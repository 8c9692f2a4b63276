package api

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"cyberimage/shared/bus"
)

// requestRoom says whether the request stream has room for a request of
// size bytes. The stream refuses new requests once full (DiscardNew), and
// a core publish hears nothing of it, so an HTTP submission asks first and
// is answered 503 queue_full rather than waiting for an answer that cannot
// come. Its state is read at most once a second.
type requestRoom struct {
	js jetstream.JetStream

	mu     sync.Mutex
	readAt time.Time
	used   uint64
	max    int64
}

func (q *requestRoom) fits(ctx context.Context, size int) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if time.Since(q.readAt) > time.Second {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		st, err := q.js.Stream(ctx, bus.StreamRequests)
		if err != nil {
			return true // unknown: publish, and let the answer (or its absence) tell
		}
		info := st.CachedInfo()
		q.used, q.max, q.readAt = info.State.Bytes, info.Config.MaxBytes, time.Now()
	}
	return q.max <= 0 || q.used+uint64(size) <= uint64(q.max)
}
