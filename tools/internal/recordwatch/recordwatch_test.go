package recordwatch

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
	"cyberimage/shared/natsauth"
	"cyberimage/shared/testenv"
)

// TestEveryPutInOrder: the watch hands take every record put, in the
// bucket's order with the server's time, passes over what is not a
// record, and CaughtUp returns only once it has taken in every write,
// and an error when it has not by its limit.
func TestEveryPutInOrder(t *testing.T) {
	// Admin only provisions: the watch's users watch with the
	// supervisor's rights.
	srv := testenv.StartNATSWithAuth(t)
	srv.Provisioned(t)
	_, js := srv.ConnectAs(t, natsauth.Supervisor)
	ctx := context.Background()
	store, err := jobstore.Open(ctx, js)
	require.NoError(t, err)

	var mu sync.Mutex
	var seen []job.Status
	var times []time.Time
	w, err := Start(ctx, store, func(rec job.Record, at time.Time) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, rec.Status)
		times = append(times, at)
	})
	require.NoError(t, err)
	t.Cleanup(w.Stop)

	id := job.IDForRequestID("recordwatch")
	_, err = store.Create(ctx, job.Record{JobID: id, Status: job.StatusQueued, CreatedAt: time.Now().UTC()})
	require.NoError(t, err)
	_, err = store.KV().Put(ctx, "not-a-record", []byte("{"))
	require.NoError(t, err)
	for _, st := range []job.Status{job.StatusProcessing, job.StatusCompleted} {
		_, err = store.Update(ctx, id, func(r *job.Record) error { r.Status = st; return nil })
		require.NoError(t, err)
	}

	require.NoError(t, w.CaughtUp(ctx, 5*time.Second))
	mu.Lock()
	require.Equal(t, []job.Status{job.StatusQueued, job.StatusProcessing, job.StatusCompleted}, seen)
	require.True(t, slices.IsSortedFunc(times, time.Time.Compare), "server times in order: %v", times)
	mu.Unlock()

	// A watch that can no longer catch up (stopped, and the bucket
	// written since) says so once its limit passes, rather than return
	// as if it had.
	w.Stop()
	_, err = store.KV().Put(ctx, "written-after-stop", []byte("{"))
	require.NoError(t, err)
	require.Error(t, w.CaughtUp(ctx, 200*time.Millisecond), "not caught up")
}
