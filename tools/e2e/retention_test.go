package e2e

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
)

// TestEndedRecordsLeaveKVAndStayInS3: with a short retention, a completed
// job's record and a rejected request's leave KV; the supervisor still
// answers for both from their archived job.json (marked archived, images
// still linked), while a job that has not ended keeps its record.
func TestEndedRecordsLeaveKVAndStayInS3(t *testing.T) {
	s := newStack(t, "CYBERIMAGE_RECORD_TTL=2s")
	s.startAll("runner-1", "CYBERIMAGE_MODELS=demo")

	done := request(t, s.client, fmtReq("kept in s3", 64, 64, 1, ""))
	require.Equal(t, job.StatusQueued, done.Status)
	rejected := request(t, s.client, `{"prompt":"bad","width":100,"request_id":"gone-bad"}`)
	require.NotNil(t, rejected.Error)
	rejectedID := job.IDForRequestID("gone-bad")
	waitCompleted(t, s, done.JobID, time.Minute)
	// A queued record of a model no runner serves (the runner serves only
	// demo) never ends, and never expires.
	waiting := request(t, s.client, fmtReq("waits", 64, 64, 1, `,"model":"tiny-sd"`))
	require.Equal(t, job.StatusQueued, waiting.Status)

	ctx := context.Background()
	for _, id := range []string{done.JobID, rejectedID} {
		require.Eventually(t, func() bool {
			_, _, err := s.store.Get(ctx, id)
			return errors.Is(err, jobstore.ErrNotFound)
		}, 30*time.Second, 200*time.Millisecond, "record %s leaves KV after its retention", id)
	}
	_, _, err := s.store.Get(ctx, waiting.JobID)
	require.NoError(t, err, "a job not ended keeps its record")

	var got struct {
		job.Record
		Archived  bool `json:"archived"`
		ImageURLs []struct {
			URL string `json:"url"`
		} `json:"image_urls"`
	}
	require.Equal(t, http.StatusOK, s.getJSON("/v1/jobs/"+done.JobID, &got))
	require.True(t, got.Archived)
	require.Equal(t, job.StatusCompleted, got.Status)
	require.Equal(t, "kept in s3", got.Spec.Prompt)
	require.Len(t, got.ImageURLs, 1)
	resp, err := http.Get(got.ImageURLs[0].URL)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "the archived record's image link opens")

	got.Archived = false
	require.Equal(t, http.StatusOK, s.getJSON("/v1/jobs/"+rejectedID, &got))
	require.True(t, got.Archived)
	require.Equal(t, job.StatusRejected, got.Status)

	require.Equal(t, http.StatusNotFound, s.getJSON("/v1/jobs/no-such-job", &got))
}

// TestArchiveOff: with CYBERIMAGE_ARCHIVE=false no job.json is written, so
// a job is known only while its record is in KV.
func TestArchiveOff(t *testing.T) {
	s := newStack(t, "CYBERIMAGE_RECORD_TTL=2s", "CYBERIMAGE_ARCHIVE=false")
	s.startAll("runner-1", "CYBERIMAGE_MODELS=demo")

	done := request(t, s.client, fmtReq("not archived", 64, 64, 1, ""))
	waitCompleted(t, s, done.JobID, time.Minute)
	require.Eventually(t, func() bool {
		_, _, err := s.store.Get(context.Background(), done.JobID)
		return errors.Is(err, jobstore.ErrNotFound)
	}, 30*time.Second, 200*time.Millisecond, "the record leaves KV after its retention")
	var got struct {
		Archived bool `json:"archived"`
	}
	require.Equal(t, http.StatusNotFound, s.getJSON("/v1/jobs/"+done.JobID, &got), "nothing archived, nothing to answer with")
}
