package api

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
)

// deadLetterFixture has three failed jobs with a dead letter each (d3
// newest), one of them (d2) re-queued since and so no longer failed.
func deadLetterFixture(t *testing.T) *apiFixture {
	f := newAPIFixture(t)
	ctx := context.Background()
	for i, id := range []string{"d1", "d2", "d3"} {
		f.put(t, job.Record{JobID: id, Status: job.StatusFailed, CreatedAt: time.Now(),
			Error: &job.Failure{Code: "max_deliveries", Message: "out of deliveries"}})
		rec, _, err := f.store.Get(ctx, id)
		require.NoError(t, err)
		_, err = f.srv.p.JS.PublishMsg(ctx, bus.EncodeDeadLetter(bus.DeadLetter{Model: "demo", JobID: id, Reason: "out of deliveries",
			Deliveries: 5, StreamSeq: uint64(100 + i), Work: bus.EncodeWork(bus.RequeueWork(rec))}))
		require.NoError(t, err)
	}
	_, err := f.store.Update(ctx, "d2", job.Requeue)
	require.NoError(t, err)
	return f
}

func letterIDs(body map[string]any) []string {
	var ids []string
	for _, d := range body["dead_letters"].([]any) {
		ids = append(ids, d.(map[string]any)["job_id"].(string))
	}
	return ids
}

// The list pages through the stream newest first, with each job's status
// now and its prompt.
func TestDeadLettersListNewestFirst(t *testing.T) {
	f := deadLetterFixture(t)
	code, body := f.call(t, "GET", "/v1/dead-letters?limit=2")
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, []string{"d3", "d2"}, letterIDs(body))
	require.EqualValues(t, 3, body["total"])
	first := body["dead_letters"].([]any)[0].(map[string]any)
	require.Equal(t, "failed", first["status"])
	require.Equal(t, "p", first["prompt"])
	require.Equal(t, "out of deliveries", first["reason"])
	require.Equal(t, "queued", body["dead_letters"].([]any)[1].(map[string]any)["status"])
	code, body = f.call(t, "GET", "/v1/dead-letters?limit=2&cursor="+body["next_cursor"].(string))
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, []string{"d1"}, letterIDs(body))
	require.Nil(t, body["next_cursor"], "the last page")

	for _, q := range []string{"limit=0", "limit=x", "cursor=0", "cursor=-1"} {
		code, _ = f.call(t, "GET", "/v1/dead-letters?"+q)
		require.Equal(t, http.StatusBadRequest, code, q)
	}
}

// Re-queueing a dead letter re-queues the failed job (a fresh attempt
// count, its work queued again) and deletes the letter; a job no longer
// failed is refused; deleting removes the letter and leaves the record.
func TestDeadLetterRequeueAndDelete(t *testing.T) {
	f := deadLetterFixture(t)
	ctx := context.Background()
	code, _ := f.callWith(t, "POST", "/v1/dead-letters/d3/requeue", nil)
	require.Equal(t, http.StatusUnauthorized, code, "an admin action")
	code, _ = f.callWith(t, "DELETE", "/v1/dead-letters/d3", nil)
	require.Equal(t, http.StatusUnauthorized, code, "an admin action")

	code, body := f.call(t, "POST", "/v1/dead-letters/d3/requeue")
	require.Equal(t, http.StatusAccepted, code, body)
	require.EqualValues(t, 1, body["deleted"])
	rec, _, err := f.store.Get(ctx, "d3")
	require.NoError(t, err)
	require.Equal(t, job.StatusQueued, rec.Status)
	jobs, err := f.srv.p.JS.Stream(ctx, bus.StreamJobs)
	require.NoError(t, err)
	_, err = jobs.GetLastMsgForSubject(ctx, bus.JobSubject("demo", "d3"))
	require.NoError(t, err, "its work is queued again")

	code, body = f.call(t, "POST", "/v1/dead-letters/d3/requeue")
	require.Equal(t, http.StatusNotFound, code, "its letter is gone: %v", body)
	code, body = f.call(t, "POST", "/v1/dead-letters/d2/requeue")
	require.Equal(t, http.StatusConflict, code, "d2 is queued already: %v", body)

	code, body = f.call(t, "DELETE", "/v1/dead-letters/d2")
	require.Equal(t, http.StatusOK, code, body)
	require.EqualValues(t, 1, body["deleted"])
	_, _, err = f.store.Get(ctx, "d2")
	require.NoError(t, err, "the record stays")
	code, body = f.call(t, "GET", "/v1/dead-letters")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, []string{"d1"}, letterIDs(body))

	// A letter whose record is gone cannot run again.
	require.NoError(t, f.store.KV().Purge(ctx, "d1"))
	code, body = f.call(t, "POST", "/v1/dead-letters/d1/requeue")
	require.Equal(t, http.StatusConflict, code, body)
	_, _, err = f.store.Get(ctx, "d1")
	require.ErrorIs(t, err, jobstore.ErrNotFound)

	code, _ = f.call(t, "DELETE", "/v1/dead-letters/nobody")
	require.Equal(t, http.StatusNotFound, code)
	code, _ = f.call(t, "DELETE", "/v1/dead-letters/a*")
	require.Equal(t, http.StatusBadRequest, code, "a wildcard is no job id")
}
