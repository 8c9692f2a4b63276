package intake

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
)

// A request's priority and deadline go into the record and the work, which
// is queued on its class's subject; expires_in counts from the request's
// stream time, so a redelivery (even past the dedup window) finds the same
// job and its work, and queues nothing twice.
func TestAdmitQueuesEachClassOnItsSubject(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	stream, proc := b.forgetful(t)
	storedAt := time.Now().Add(-time.Second).Truncate(time.Millisecond)
	meta := &jetstream.MsgMetadata{Stream: bus.StreamRequests, Timestamp: storedAt, NumDelivered: 1}
	meta.Sequence.Stream = 9
	payload := []byte(`{"prompt":"interactive","priority":"high","expires_in":60}`)
	first, err := proc.admit(ctx, bus.DefaultClient, payload, meta)
	require.NoError(t, err)
	require.Equal(t, job.StatusQueued, first.Status)

	rec, _, err := b.store.Get(ctx, first.JobID)
	require.NoError(t, err)
	require.Equal(t, job.PriorityHigh, rec.Spec.Priority)
	require.True(t, rec.Spec.Deadline.Equal(storedAt.Add(time.Minute)), "deadline %s", rec.Spec.Deadline)
	msg, err := stream.GetLastMsgForSubject(ctx, bus.WorkSubject("demo", job.PriorityHigh, first.JobID))
	require.NoError(t, err)
	w, err := bus.DecodeWork(msg.Data)
	require.NoError(t, err)
	require.Equal(t, rec.Spec, w.Spec)

	waitDedupForgets(t, b.js)
	meta.NumDelivered = 2
	again, err := proc.admit(ctx, bus.DefaultClient, payload, meta)
	require.NoError(t, err)
	require.True(t, again.Duplicate)
	require.EqualValues(t, 1, jobsPending(t, b.js), "one job, one work message")

	meta.Sequence.Stream = 10
	meta.NumDelivered = 1
	normal, err := proc.admit(ctx, bus.DefaultClient, []byte(`{"prompt":"batch"}`), meta)
	require.NoError(t, err)
	_, err = stream.GetLastMsgForSubject(ctx, bus.JobSubject("demo", normal.JobID))
	require.NoError(t, err, "normal work keeps its subject")
}

// A deadline already passed when the request was stored is refused with
// its code; so are an unknown class and both forms of deadline at once.
func TestAdmitRejectsBadSchedules(t *testing.T) {
	b := setup(t)
	b.start()
	defer b.stop()
	for payload, code := range map[string]job.Code{
		`{"prompt":"p","deadline":"2020-01-01T00:00:00Z"}`:                job.CodeDeadlineOutOfRange,
		`{"prompt":"p","priority":"urgent"}`:                              job.CodePriorityInvalid,
		`{"prompt":"p","deadline":"2099-01-01T00:00:00Z","expires_in":5}`: job.CodeDeadlineInvalid,
		`{"prompt":"p","expires_in":0}`:                                   job.CodeExpiresInOutOfRange,
	} {
		a := b.request(t, payload)
		require.Equal(t, job.StatusRejected, a.Status, payload)
		require.Equal(t, code, a.Error.Code, payload)
	}
	require.Zero(t, jobsPending(t, b.js))
}
