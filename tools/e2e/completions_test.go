package e2e

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
	"cyberimage/tools/internal/recordwatch"
)

// completionWatch counts, from a KV watch started before any job, how many
// times each record was written as completed: "exactly once" is checked
// on the history of writes, not on the final state alone.
type completionWatch struct {
	t     testing.TB
	watch *recordwatch.Watch
	mu    sync.Mutex
	count map[string]int
	// at is when the server stored each completed write, in watch order.
	at []time.Time
}

func watchCompletions(t testing.TB, store *jobstore.Store) *completionWatch {
	t.Helper()
	cw := &completionWatch{t: t, count: map[string]int{}}
	w, err := recordwatch.Start(context.Background(), store, func(rec job.Record, at time.Time) {
		if rec.Status != job.StatusCompleted {
			return
		}
		cw.mu.Lock()
		defer cw.mu.Unlock()
		cw.count[rec.JobID]++
		cw.at = append(cw.at, at)
	})
	require.NoError(t, err)
	cw.watch = w
	t.Cleanup(w.Stop)
	return cw
}

// caughtUp waits (up to 5 s) until the watch has taken in every write the
// bucket holds now: a count read right after a record said completed could
// miss that very write. It fails the test when the watch does not catch
// up, rather than let it count from a partial history.
func (c *completionWatch) caughtUp() {
	c.t.Helper()
	require.NoError(c.t, c.watch.CaughtUp(context.Background(), 5*time.Second), "the completion watch")
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
