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

	proc := New(params(t, b.nc, b.js, b.store))
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
