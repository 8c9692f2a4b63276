package api

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
)

// Retry all failed re-queues exactly the failed jobs; purge removes ended
// records by status and age and never touches a job in flight; both are
// admin actions.
func TestRetryAllFailedAndPurge(t *testing.T) {
	f := newAPIFixture(t)
	old := time.Now().Add(-48 * time.Hour)
	f.put(t, job.Record{JobID: "f1", Status: job.StatusFailed, CreatedAt: old})
	f.put(t, job.Record{JobID: "f2", Status: job.StatusFailed, CreatedAt: time.Now()})
	f.put(t, job.Record{JobID: "done-old", Status: job.StatusCompleted, CreatedAt: old})
	f.put(t, job.Record{JobID: "done-new", Status: job.StatusCompleted, CreatedAt: time.Now()})
	f.put(t, job.Record{JobID: "rejected-old", Status: job.StatusRejected, CreatedAt: old})
	f.put(t, job.Record{JobID: "running", Status: job.StatusProcessing, CreatedAt: old})
	waitIndexed(t, f, 6)

	code, _ := f.callWith(t, "POST", "/v1/jobs/retry-failed", nil)
	require.Equal(t, http.StatusUnauthorized, code, "an admin action")
	code, body := f.call(t, "POST", "/v1/jobs/retry-failed")
	require.Equal(t, http.StatusAccepted, code, body)
	require.EqualValues(t, 2, body["requeued"])
	ctx := context.Background()
	for _, id := range []string{"f1", "f2"} {
		rec, _, err := f.store.Get(ctx, id)
		require.NoError(t, err)
		require.Equal(t, job.StatusQueued, rec.Status)
	}

	code, _ = f.call(t, "POST", "/v1/jobs/purge?status=processing")
	require.Equal(t, http.StatusBadRequest, code, "a job in flight is never purged")
	code, _ = f.call(t, "POST", "/v1/jobs/purge?older_than=soon")
	require.Equal(t, http.StatusBadRequest, code)
	require.Eventually(t, func() bool { return f.idx.Counts().Failed == 0 }, 5*time.Second, 10*time.Millisecond)
	code, body = f.call(t, "POST", "/v1/jobs/purge?older_than=24h")
	require.Equal(t, http.StatusOK, code, body)
	require.EqualValues(t, 2, body["purged"], "the old completed and the old rejected")
	for id, gone := range map[string]bool{"done-old": true, "rejected-old": true, "done-new": false, "running": false, "f1": false} {
		_, _, err := f.store.Get(ctx, id)
		if gone {
			require.ErrorIs(t, err, jobstore.ErrNotFound, id)
		} else {
			require.NoError(t, err, id)
		}
	}
	code, body = f.call(t, "POST", "/v1/jobs/purge?status=completed")
	require.Equal(t, http.StatusOK, code)
	require.EqualValues(t, 1, body["purged"])
}
