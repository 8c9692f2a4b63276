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

func TestAdmitQueuesValidRejectsInvalid(t *testing.T) {
	b := setup(t)
	b.start()
	defer b.stop()
	ctx := context.Background()

	ok := b.request(t, `{"prompt":"a lighthouse","width":256,"height":128,"seed":7}`)
	require.Equal(t, job.StatusQueued, ok.Status)
	rec, _, err := b.store.Get(ctx, ok.JobID)
	require.NoError(t, err)
	require.Equal(t, job.StatusQueued, rec.Status)
	require.Equal(t, 256, rec.Spec.Width)
	require.Equal(t, int64(7), rec.Spec.Seed)
	require.Equal(t, "demo", rec.Spec.Model)

	first := b.request(t, `{"prompt":"same","request_id":"client-1"}`)
	again := b.request(t, `{"prompt":"same","request_id":"client-1"}`)
	require.Equal(t, first.JobID, again.JobID)
	require.True(t, again.Duplicate)

	bad := b.request(t, `{"prompt":"x","width":100,"request_id":"client-2"}`)
	require.NotNil(t, bad.Error)
	require.Equal(t, job.CodeWidthNotMultipleOf8, bad.Error.Code)
	rej, _, err := b.store.Get(ctx, job.IDForRequestID("client-2"))
	require.NoError(t, err)
	require.Equal(t, job.StatusRejected, rej.Status)

	// The client fixes the request and resends it under the same key.
	fixed := b.request(t, `{"prompt":"x","width":104,"request_id":"client-2"}`)
	require.Equal(t, job.StatusQueued, fixed.Status)
	require.Equal(t, bad.JobID, fixed.JobID)

	notJSON := b.request(t, `{"prompt":`)
	require.Equal(t, job.CodeInvalidJSON, notJSON.Error.Code)

	require.EqualValues(t, 3, jobsPending(t, b.js), "three jobs queued, nothing else")
	require.EqualValues(t, 3, b.stats.Accepted.Load())
	require.EqualValues(t, 1, b.stats.Duplicates.Load())
	require.Equal(t, map[job.Code]int64{job.CodeWidthNotMultipleOf8: 1, job.CodeInvalidJSON: 1}, b.stats.Rejected())
}

func TestRequestPublishedWhileIngestDownIsQueuedLater(t *testing.T) {
	b := setup(t)
	require.NoError(t, b.nc.Publish(bus.SubjectRequests, []byte(`{"prompt":"while down","request_id":"late"}`)))
	require.NoError(t, b.nc.Flush())
	b.start()
	defer b.stop()
	require.Eventually(t, func() bool {
		rec, _, err := b.store.Get(context.Background(), job.IDForRequestID("late"))
		return err == nil && rec.Status == job.StatusQueued
	}, 10*time.Second, 20*time.Millisecond)
	require.EqualValues(t, 1, jobsPending(t, b.js))
}

func TestRedeliveredRequestMakesOneJob(t *testing.T) {
	b := setup(t)
	b.start()
	defer b.stop()
	ctx := context.Background()
	// Simulate a crash after the record was written but before the work
	// was queued: the record exists, and the same stream message comes back.
	meta := &jetstream.MsgMetadata{Stream: bus.StreamRequests, Timestamp: time.Now(), NumDelivered: 1}
	meta.Sequence.Stream = 99
	payload := []byte(`{"prompt":"crashy"}`)
	id := job.NewID(meta.Timestamp, "CYBERIMAGE_REQUESTS:99")
	_, err := b.store.Create(ctx, job.Record{JobID: id, Status: job.StatusQueued, Spec: job.Spec{Prompt: "crashy"}})
	require.NoError(t, err)

	proc := New(params(t, b.nc, b.js, b.store, b.catalog))
	first, err := proc.admit(ctx, bus.DefaultClient, payload, meta)
	require.NoError(t, err)
	require.True(t, first.Duplicate, "a first delivery colliding with a record is a duplicate")
	meta.NumDelivered = 2
	again, err := proc.admit(ctx, bus.DefaultClient, payload, meta)
	require.NoError(t, err)
	require.Equal(t, id, again.JobID)
	require.False(t, again.Duplicate, "a redelivery re-queues the work")
	_, err = proc.admit(ctx, bus.DefaultClient, payload, meta)
	require.NoError(t, err)
	require.EqualValues(t, 1, jobsPending(t, b.js), "the message id makes the second queueing a no-op")
}

// TestRedeliveryPastDedupWindowQueuesNoSecondWork: once the stream has
// forgotten the message id, a redelivered request for a job whose work is
// still queued must not publish it again.
func TestRedeliveryPastDedupWindowQueuesNoSecondWork(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	_, proc := b.forgetful(t)
	meta := &jetstream.MsgMetadata{Stream: bus.StreamRequests, Timestamp: time.Now(), NumDelivered: 1}
	meta.Sequence.Stream = 7
	payload := []byte(`{"prompt":"slow ack"}`)
	first, err := proc.admit(ctx, bus.DefaultClient, payload, meta)
	require.NoError(t, err)
	require.False(t, first.Duplicate)
	waitDedupForgets(t, b.js)
	meta.NumDelivered = 2
	again, err := proc.admit(ctx, bus.DefaultClient, payload, meta)
	require.NoError(t, err)
	require.Equal(t, first.JobID, again.JobID)
	require.True(t, again.Duplicate)
	require.EqualValues(t, 1, jobsPending(t, b.js), "one job, one work message")
}

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
