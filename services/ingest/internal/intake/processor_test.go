package intake

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
	"cyberimage/shared/models"
	"cyberimage/shared/natsauth"
	"cyberimage/shared/testenv"
)

type bundle struct {
	nc *nats.Conn
	// client submits requests, with a client's inbox: the only kind of
	// reply subject ingest answers.
	client *nats.Conn
	js     jetstream.JetStream
	store  *jobstore.Store
	stats  *Stats
	start  func()
	stop   func()
}

func setup(t *testing.T) *bundle {
	t.Helper()
	n := testenv.StartNATS(t)
	nc, js := n.Provisioned(t, "demo")
	client, _ := n.ConnectAs(t, natsauth.Client)
	ctx := context.Background()
	store, err := jobstore.Open(ctx, js)
	require.NoError(t, err)
	catalog, err := models.Load(testenv.RepoRoot(t)+"/infra/models", "")
	require.NoError(t, err)
	b := &bundle{nc: nc, client: client, js: js, store: store, stats: &Stats{}}
	var proc *Processor
	b.start = func() {
		proc = New(Params{NC: nc, JS: js, Store: store, Models: catalog, Concurrency: 4, Logger: zaptest.NewLogger(t), Stats: b.stats})
		require.NoError(t, proc.Start(ctx))
	}
	b.stop = func() { _ = proc.Stop(ctx) }
	return b
}

func (b *bundle) request(t *testing.T, payload string) answer {
	t.Helper()
	msg, err := b.client.Request(bus.SubjectRequests, []byte(payload), 5*time.Second)
	require.NoError(t, err)
	var a answer
	require.NoError(t, json.Unmarshal(msg.Data, &a), string(msg.Data))
	return a
}

func jobsPending(t *testing.T, js jetstream.JetStream) uint64 {
	t.Helper()
	s, err := js.Stream(context.Background(), bus.StreamJobs)
	require.NoError(t, err)
	info, err := s.Info(context.Background())
	require.NoError(t, err)
	return info.State.Msgs
}

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

	proc := New(Params{NC: b.nc, JS: b.js, Store: b.store, Models: mustCatalog(t), Concurrency: 1, Logger: zaptest.NewLogger(t)})
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

// forgetful shortens the jobs stream's dedup window to 100 ms, so a test
// can wait it out (waitDedupForgets), and makes a processor whose admit
// the test calls itself, as for a redelivered request.
func (b *bundle) forgetful(t *testing.T) (jetstream.Stream, *Processor) {
	t.Helper()
	ctx := context.Background()
	stream, err := b.js.Stream(ctx, bus.StreamJobs)
	require.NoError(t, err)
	cfg := stream.CachedInfo().Config
	cfg.Duplicates = 100 * time.Millisecond
	_, err = b.js.UpdateStream(ctx, cfg)
	require.NoError(t, err)
	return stream, New(Params{NC: b.nc, JS: b.js, Store: b.store, Models: mustCatalog(t), Concurrency: 1, Logger: zaptest.NewLogger(t)})
}

// waitDedupForgets waits until the jobs stream has forgotten the message
// ids published so far. It publishes a probe and publishes it again until
// the stream takes it as new: the probe's id, the newest, has then left
// the dedup window, and every older id with it. The probe is purged.
func waitDedupForgets(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	ctx := context.Background()
	subject := bus.JobSubject("demo", "dedup-probe")
	accepted := func() bool {
		ack, err := js.Publish(ctx, subject, nil, jetstream.WithMsgID("dedup-probe"))
		require.NoError(t, err)
		return !ack.Duplicate
	}
	require.True(t, accepted(), "the probe's first publish")
	require.Eventually(t, accepted, 10*time.Second, 20*time.Millisecond, "the stream never forgot the probe's id")
	stream, err := js.Stream(ctx, bus.StreamJobs)
	require.NoError(t, err)
	require.NoError(t, stream.Purge(ctx, jetstream.WithPurgeSubject(subject)))
}

func mustCatalog(t *testing.T) *models.Catalog {
	c, err := models.Load(testenv.RepoRoot(t)+"/infra/models", "")
	require.NoError(t, err)
	return c
}
