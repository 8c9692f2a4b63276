package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/s3layout"
)

// TestRequestWhileIngestDown: a request published while ingest is stopped
// waits in the requests stream and is processed once ingest starts.
func TestRequestWhileIngestDown(t *testing.T) {
	s := newStack(t)
	s.startRunner("runner-a")
	publish(t, s.nc, fmtReq("published while ingest was down", 64, 64, 1, `,"request_id":"early"`))
	require.NoError(t, s.nc.Flush())
	require.Eventually(t, func() bool { return s.inStream(bus.StreamRequests) == 1 }, 10*time.Second, 20*time.Millisecond,
		"the request waits in its stream")
	require.Empty(t, s.records(), "nothing can happen without ingest")
	s.startIngest()
	recs := s.waitEnded(1, time.Minute)
	rec := recs[job.IDForRequestID("early")]
	require.Equal(t, job.StatusCompleted, rec.Status)
	checkImages(t, s, rec)
}

// TestKillRunnerMidJob: kill -9 a runner in the middle of a job; JetStream
// redelivers after AckWait and the other runner completes it, with exactly
// one completed record and one set of images.
func TestKillRunnerMidJob(t *testing.T) {
	s := newStack(t, "CYBERIMAGE_ACK_WAIT=2s")
	s.startIngest()
	victim := s.startRunner("runner-victim")

	ev := collectEvents(t, s.nc)
	// Big enough to be mid-run when killed: 4 × 1024² pixels in 50 steps.
	r := request(t, s.client, fmtReq("kill me mid-job", 1024, 1024, 4, `,"steps":50,"request_id":"victim"`))
	require.Equal(t, job.StatusQueued, r.Status)
	waitStep(t, ev.ch, r.JobID, "runner-victim", 2)
	victim.kill()
	killedAt := time.Now()
	s.startRunner("runner-survivor")

	rec := s.completedOn("runner-survivor", r.JobID, 2*time.Minute)
	require.Equal(t, 2, rec.Attempts, "the second delivery completed it")
	checkImages(t, s, rec)
	images, thumbs := 0, 0
	for o := range s.s3.ListObjects(context.Background(), s.minio.Config.Bucket, minioPrefix(r.JobID)) {
		if _, _, err := s3layout.ParseImageKey(o.Key); err == nil {
			images++
		} else if strings.HasSuffix(o.Key, ".thumb.png") {
			thumbs++
		}
	}
	require.Equal(t, 4, images, "one set of images")
	require.Equal(t, 4, thumbs, "one thumbnail each")
	require.Zero(t, s.jobsInStream())
	t.Logf("recovered %.1fs after the kill (AckWait 2s)", time.Since(killedAt).Seconds())
}

func waitStep(t testing.TB, events <-chan bus.ProgressEvent, jobID, runner string, step int) {
	t.Helper()
	_, ok := nextEvent(events, time.Minute, func(e bus.ProgressEvent) bool {
		return e.JobID == jobID && e.Runner == runner && e.Step >= step
	})
	if !ok {
		t.Fatalf("job %s never reached step %d on %s", jobID, step, runner)
	}
}
