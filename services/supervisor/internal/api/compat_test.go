package api

import (
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
)

// TestGeneratePassesTheSchedulingFields: the original app's submit takes
// the pipeline's priority, deadline, expiry and callback, and publishes
// them in the request as they came (ingest validates them).
func TestGeneratePassesTheSchedulingFields(t *testing.T) {
	f := newAPIFixture(t)
	nc := f.ingest(t)
	published := make(chan []byte, 2)
	answerRequests(t, nc, func(m *nats.Msg) bus.RequestReply {
		published <- m.Data
		return bus.RequestReply{JobID: "J-accepted", Status: job.StatusQueued}
	})
	submit := func(body string) job.Request {
		t.Helper()
		rec := f.send(t, "POST", "/api/generate", "127.0.0.1:4000", body, nil)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		select {
		case data := <-published:
			req, err := job.DecodeRequest(data)
			require.NoError(t, err, string(data))
			return req
		case <-time.After(10 * time.Second):
			t.Fatal("no request published")
			return job.Request{}
		}
	}

	req := submit(`{"model_id":"demo","prompt":"p","priority":"high","expires_in":90,"callback_url":"http://hooks.test/done"}`)
	require.Equal(t, job.PriorityHigh, req.Priority)
	require.NotNil(t, req.ExpiresIn)
	require.Equal(t, 90, *req.ExpiresIn)
	require.Equal(t, "http://hooks.test/done", req.CallbackURL)
	require.Equal(t, "demo", req.Model)

	req = submit(`{"model_id":"demo","prompt":"p","deadline":"2030-01-01T00:00:00Z"}`)
	require.Equal(t, "2030-01-01T00:00:00Z", req.Deadline)
	require.Empty(t, req.Priority, "absent: ingest applies the default")
	require.Nil(t, req.ExpiresIn)
}
