package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
)

// TestS3OutageIsRetriedNotLost: with MinIO down, the runner keeps the
// images of the job in hand and retries the upload when S3 answers again;
// a job queued meanwhile waits too. Neither loses its inference or burns a
// delivery, and every job completes exactly once. A second variant with no
// patience shows the other path: the job is NAKed with backoff and the slot
// pulls nothing more until S3 answers.
func TestS3OutageIsRetriedNotLost(t *testing.T) {
	for _, patience := range []string{"2m", "1ms"} {
		t.Run("upload patience "+patience, func(t *testing.T) { s3Outage(t, patience) })
	}
}

func s3Outage(t *testing.T, patience string) {
	s := newStack(t)
	s.startIngest()
	s.startRunner("runner-a", "CYBERIMAGE_UPLOAD_PATIENCE="+patience)
	ev := collectEvents(t, s.nc)

	s.minio.Stop()
	first := request(t, s.client, fmtReq("during the outage", 64, 64, 1, ""))
	retry, ok := nextEvent(ev.ch, time.Minute, func(e bus.ProgressEvent) bool { return strings.HasPrefix(e.Message, "retrying") })
	require.True(t, ok, "the runner never reported a retry while S3 was down")
	require.Equal(t, first.JobID, retry.JobID)
	second := request(t, s.client, fmtReq("queued during the outage", 64, 64, 1, ""))
	// The scenario, not a wait for a result: the outage lasts a second
	// more with the second job queued, a window in which the runner must
	// leave it alone (there is no event to wait for when it does).
	time.Sleep(time.Second)
	s.minio.Start()

	recs := s.waitEnded(2, time.Minute)
	s.requireCompletedOnce(recs, first.JobID, second.JobID)
	checkImages(t, s, recs[first.JobID])
	checkImages(t, s, recs[second.JobID])
	if patience == "1ms" {
		require.GreaterOrEqual(t, recs[first.JobID].Attempts, 2, "without patience the job in hand is handed back and retried")
		require.LessOrEqual(t, recs[second.JobID].Attempts, 2, "the slot pulled at most one more job before it noticed the outage")
	} else {
		require.Equal(t, 1, recs[first.JobID].Attempts, "the images were kept and uploaded when S3 came back")
		require.Equal(t, 1, recs[second.JobID].Attempts, "a job queued during the outage waited without burning a delivery")
	}
	require.Zero(t, s.jobsInStream())
}

// TestModelFailureFailsJobNotRunner: a model whose file cannot load fails
// its jobs at once with the reason (no retries: they cannot help), and the
// runner goes on to serve other jobs.
func TestModelFailureFailsJobNotRunner(t *testing.T) {
	models := t.TempDir()
	writeModel(t, models, "demo", 4, nil)
	writeModel(t, models, "broken", 4, []byte("not an onnx model"))
	s := newStack(t, "CYBERIMAGE_MODELS_DIR="+models, "CYBERIMAGE_DEFAULT_MODEL=demo")
	s.startIngest()
	s.startRunner("runner-a")
	bad := request(t, s.client, `{"prompt":"needs the broken model","model":"broken","width":64,"height":64}`)
	good := request(t, s.client, fmtReq("after the broken one", 64, 64, 1, ""))
	recs := s.waitEnded(2, time.Minute)

	failed := recs[bad.JobID]
	require.Equal(t, job.StatusFailed, failed.Status)
	require.Equal(t, job.CodeGenerationFailed, failed.Error.Code)
	require.Contains(t, failed.Error.Message, "broken")
	require.Equal(t, 1, failed.Attempts, "a permanent failure is not retried")
	require.NotNil(t, failed.CompletedAt)
	require.Equal(t, job.StatusCompleted, recs[good.JobID].Status)
	require.Zero(t, s.jobsInStream(), "the failed job's message was terminated, not left to redeliver")
}
