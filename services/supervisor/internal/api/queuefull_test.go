package api

import (
	"context"
	"net/http"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"cyberimage/shared/bus"
	"cyberimage/shared/natsauth"
)

// TestSubmitToAFullRequestStreamIsRefused: when the request stream is full
// (ingest down long enough), an HTTP submission is answered 503 queue_full
// at once, nothing is published, and what the stream holds stays.
func TestSubmitToAFullRequestStreamIsRefused(t *testing.T) {
	f := newAPIFixture(t)
	ctx := context.Background()
	js := f.srv.p.JS
	st, err := js.Stream(ctx, bus.StreamRequests)
	require.NoError(t, err)
	cfg := st.CachedInfo().Config
	require.EqualValues(t, bus.RequestsMaxBytes, cfg.MaxBytes, "provisioned with its bound")
	require.Equal(t, jetstream.DiscardNew, cfg.Discard)
	cfg.MaxBytes = 4096 // a small stream, filled below (an operator's change)
	_, admin := f.nats.Connect(t)
	_, err = admin.UpdateStream(ctx, cfg)
	require.NoError(t, err)
	// Publish until less room is left than the submission below needs
	// (the stream's figures only grow, however late they are read).
	client, _ := f.nats.ConnectAs(t, natsauth.Client)
	for i := 0; ; i++ {
		require.Less(t, i, 1000, "the stream never filled")
		require.NoError(t, client.Publish(bus.SubjectRequests, []byte(`{"prompt":"waiting for ingest"}`)))
		require.NoError(t, client.Flush())
		info, err := st.Info(ctx)
		require.NoError(t, err)
		if info.State.Bytes+100 > uint64(cfg.MaxBytes) {
			break
		}
	}
	before, err := st.Info(ctx)
	require.NoError(t, err)

	rec := f.send(t, http.MethodPost, "/v1/jobs", "",
		`{"prompt":"one too many, with a prompt long enough to overflow what is left of the stream"}`, bearer(testToken))
	require.Equal(t, http.StatusServiceUnavailable, rec.Code, rec.Body.String())
	require.Equal(t, "queue_full", errorCode(t, rec))
	after, err := st.Info(ctx)
	require.NoError(t, err)
	require.Equal(t, before.State.Msgs, after.State.Msgs, "what the stream held stays, nothing was added")
}
