package e2e

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
)

// completionWatch counts, from a KV watch started before any job, how many
// times each record was written as completed: "exactly once" is checked
// on the history of writes, not on the final state alone.
type completionWatch struct {
	kv    jetstream.KeyValue
	mu    sync.Mutex
	count map[string]int
	seen  uint64 // the last revision the watch has taken in
	// at is when the server stored each completed write, in watch order.
	at []time.Time
}

func watchCompletions(t testing.TB, store *jobstore.Store) *completionWatch {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w, err := store.KV().WatchAll(ctx)
	require.NoError(t, err)
	cw := &completionWatch{kv: store.KV(), count: map[string]int{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for e := range w.Updates() {
			if e == nil {
				continue
			}
			cw.mu.Lock()
			cw.seen = max(cw.seen, e.Revision())
			if e.Operation() == jetstream.KeyValuePut {
				if rec, err := jobstore.Decode(e.Value()); err == nil && rec.Status == job.StatusCompleted {
					cw.count[rec.JobID]++
					cw.at = append(cw.at, e.Created())
				}
			}
			cw.mu.Unlock()
		}
	}()
	t.Cleanup(func() { cancel(); _ = w.Stop(); <-done })
	return cw
}

// caughtUp waits (up to 5 s) until the watch has taken in every write the
// bucket holds now: it runs behind KV, and a count read right after a
// record said completed could miss that very write.
func (c *completionWatch) caughtUp() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	status, err := c.kv.Status(ctx)
	if err != nil {
		return
	}
	last := status.(*jetstream.KeyValueBucketStatus).StreamInfo().State.LastSeq
	poll := time.NewTicker(5 * time.Millisecond)
	defer poll.Stop()
	for ctx.Err() == nil {
		c.mu.Lock()
		seen := c.seen
		c.mu.Unlock()
		if seen >= last {
			return
		}
		select {
		case <-ctx.Done():
		case <-poll.C:
		}
	}
}

// total counts jobs written completed at least once.
func (c *completionWatch) total() int {
	c.caughtUp()
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.count)
}

// longestPause is the longest time between two completions (server times).
func (c *completionWatch) longestPause() time.Duration {
	c.caughtUp()
	c.mu.Lock()
	at := slices.Clone(c.at)
	c.mu.Unlock()
	slices.SortFunc(at, time.Time.Compare)
	var longest time.Duration
	for i := 1; i < len(at); i++ {
		longest = max(longest, at[i].Sub(at[i-1]))
	}
	return longest
}

// of is how many times the record of id was written completed.
func (c *completionWatch) of(id string) int {
	c.caughtUp()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.count[id]
}
