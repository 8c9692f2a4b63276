package intake

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
)

// A callback_url to an allowed host goes into the record; one to another
// host is rejected with callback_not_allowed, and so is every one when
// ingest allows none.
func TestAdmitChecksTheCallbackAgainstTheAllowList(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	hosts, err := job.ParseCallbackHosts("hooks.example.com")
	require.NoError(t, err)
	meta := &jetstream.MsgMetadata{Stream: bus.StreamRequests, NumDelivered: 1}
	admit := func(callbacks job.CallbackHosts, seq uint64, payload string) answer {
		p := params(t, b.nc, b.js, b.store, b.catalog)
		p.Callbacks = callbacks
		proc := New(p)
		meta.Sequence.Stream = seq
		ans, err := proc.admit(ctx, bus.DefaultClient, []byte(payload), meta)
		require.NoError(t, err)
		return ans
	}
	ok := admit(hosts, 1, `{"prompt":"p","callback_url":"https://hooks.example.com/done?t=1"}`)
	require.Equal(t, job.StatusQueued, ok.Status)
	rec, _, err := b.store.Get(ctx, ok.JobID)
	require.NoError(t, err)
	require.Equal(t, "https://hooks.example.com/done?t=1", rec.Spec.CallbackURL)

	other := admit(hosts, 2, `{"prompt":"p","callback_url":"https://169.254.169.254/latest"}`)
	require.Equal(t, job.StatusRejected, other.Status)
	require.Equal(t, job.CodeCallbackNotAllowed, other.Error.Code)
	none := admit(job.CallbackHosts{}, 3, `{"prompt":"p","callback_url":"https://hooks.example.com/done"}`)
	require.Equal(t, job.CodeCallbackNotAllowed, none.Error.Code)
}
