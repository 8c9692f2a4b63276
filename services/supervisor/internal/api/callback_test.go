package api

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"cyberimage/services/supervisor/internal/webhook"
	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
	"cyberimage/shared/natsauth"
	"cyberimage/shared/testenv"
)

// TestJobViewShowsTheCallback: a job with a callback_url shows its
// delivery from the webhooks bucket, pending once ended before any
// attempt; a job without one shows none. The supervisor reads and
// writes the bucket with its own credentials.
func TestJobViewShowsTheCallback(t *testing.T) {
	n := testenv.StartNATSWithAuth(t)
	n.Provisioned(t, "demo")
	nc, js := n.ConnectAs(t, natsauth.Supervisor)
	var book *webhook.Book
	f := newAPIFixtureOn(t, nc, js, func(p *Params) {
		var err error
		book, err = webhook.OpenBook(context.Background(), p.JS, jobstore.DefaultRetention())
		require.NoError(t, err)
		p.Callback = book.View
	})
	ctx := context.Background()
	spec := job.Spec{Prompt: "p", Model: "demo", Width: 64, Height: 64, Steps: 1, NumImages: 1, CallbackURL: "https://hooks.example.com/cb"}
	for id, status := range map[string]job.Status{"queued": job.StatusQueued, "ended": job.StatusCompleted, "called": job.StatusCompleted} {
		_, err := f.store.Create(ctx, job.Record{JobID: id, Status: status, Spec: spec})
		require.NoError(t, err)
	}
	f.put(t, job.Record{JobID: "plain", Status: job.StatusCompleted})
	require.NoError(t, book.Put(ctx, "called", webhook.Status{URL: spec.CallbackURL, State: webhook.StateDelivered, Delivery: "called.0", EndedAs: job.StatusCompleted,
		Count: 1, Attempts: []webhook.Attempt{{Outcome: webhook.OutcomeDelivered, HTTPStatus: 204}}}))

	callback := func(id string) map[string]any {
		code, body := f.call(t, "GET", "/v1/jobs/"+id)
		require.Equal(t, http.StatusOK, code)
		cb, _ := body["callback"].(map[string]any)
		return cb
	}
	require.Equal(t, map[string]any{"url": spec.CallbackURL}, callback("queued"))
	require.Equal(t, map[string]any{"url": spec.CallbackURL, "state": "pending", "delivery": "ended.0"}, callback("ended"))
	called := callback("called")
	require.Equal(t, "delivered", called["state"])
	require.EqualValues(t, 204, called["attempts"].([]any)[0].(map[string]any)["http_status"])
	require.Nil(t, callback("plain"))
}
