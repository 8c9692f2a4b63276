package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/job"
)

// TestCancel: a queued job is dropped from the queue; a running one is
// terminated mid-inference; both end cancelled, nothing is left in the
// queue, and the runner goes straight on to the next job.
func TestCancel(t *testing.T) {
	s := newFastStack(t)
	ev := s.startFront()

	queued := request(t, s.client, fmtReq("cancel me while queued", 64, 64, 1, ""))
	require.Eventually(t, func() bool { return s.jobsInStream() == 1 }, 5*time.Second, 20*time.Millisecond)
	require.Equal(t, http.StatusOK, post(t, s.url("/v1/jobs/"+queued.JobID+"/cancel")))
	require.Zero(t, s.jobsInStream(), "the queued work was removed")

	s.startRunner("runner-a")
	running := s.requestUntil(ev, "runner-a", 2, fmtReq("cancel me while running", 1024, 1024, 4, `,"steps":50`))
	cancelledAt := time.Now()
	require.Equal(t, http.StatusOK, post(t, s.url("/v1/jobs/"+running.JobID+"/cancel")))
	next := request(t, s.client, fmtReq("after the cancel", 64, 64, 1, ""))

	recs := s.waitEnded(3, time.Minute)
	for _, id := range []string{queued.JobID, running.JobID} {
		require.Equal(t, job.StatusCancelled, recs[id].Status, id)
		require.Equal(t, job.CodeCancelled, recs[id].Error.Code)
		require.Zero(t, s.completions.of(id))
	}
	require.Empty(t, recs[running.JobID].Images, "the running job wrote no result")
	require.Equal(t, job.StatusCompleted, recs[next.JobID].Status)
	require.Less(t, recs[next.JobID].CompletedAt.Sub(cancelledAt), 3*time.Second, "no cool-off (5s here) after a cancel")
	require.Zero(t, s.jobsInStream())
	require.Equal(t, http.StatusConflict, post(t, s.url("/v1/jobs/"+next.JobID+"/cancel")), "a completed job cannot be cancelled")
	require.Equal(t, http.StatusNotFound, post(t, s.url("/v1/jobs/NOSUCH/cancel")))
	var q map[string]int
	s.getJSON("/api/queue", &q)
	require.Equal(t, 2, q["cancelled"])
}
