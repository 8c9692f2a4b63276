package index

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
	"cyberimage/shared/testenv"
)

// bucket is a test's records bucket on an in-process NATS server with the
// layout provisioned, opened as the supervisor opens it.
type bucket struct {
	ctx   context.Context // ends with the test, or at the test's time limit
	js    jetstream.JetStream
	store *jobstore.Store
	state jetstream.KeyValue // the supervisor's bucket, where snapshots go
}

func newBucket(t *testing.T, limit time.Duration) *bucket {
	t.Helper()
	_, js := testenv.StartNATS(t).Provisioned(t)
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	t.Cleanup(cancel)
	b := &bucket{ctx: ctx, js: js}
	var err error
	b.store, err = jobstore.Open(ctx, js)
	require.NoError(t, err)
	b.state, err = js.KeyValue(ctx, bus.BucketSupervisor)
	require.NoError(t, err)
	return b
}

// remake deletes the records bucket and makes it again, empty, as an
// operator or a lost cluster would.
func (b *bucket) remake(t *testing.T) {
	t.Helper()
	require.NoError(t, b.js.DeleteStream(b.ctx, "KV_"+bus.BucketJobs))
	require.NoError(t, bus.Ensure(b.ctx, b.js, bus.DefaultSettings()))
	var err error
	b.store, err = jobstore.Open(b.ctx, b.js)
	require.NoError(t, err)
}

// index is an index of the test's bucket, not started.
func (b *bucket) index(t *testing.T, opts ...Option) *Index {
	return New(b.store.KV(), zaptest.NewLogger(t), opts...)
}

// start starts x and waits until it is ready; it stops when the test ends.
func (b *bucket) start(t *testing.T, x *Index) *Index {
	t.Helper()
	require.NoError(t, x.Start(b.ctx))
	t.Cleanup(func() { _ = x.Stop(context.Background()) })
	<-x.Ready()
	return x
}

// recount counts the records in the bucket, as the index should.
func (b *bucket) recount(t *testing.T) (Counts, []string) {
	t.Helper()
	keys, err := b.store.KV().ListKeys(b.ctx)
	require.NoError(t, err)
	var c Counts
	var ids []string
	for key := range keys.Keys() {
		rec, _, err := b.store.Get(b.ctx, key)
		require.NoError(t, err)
		c.add(rec.Status, 1)
		ids = append(ids, key)
	}
	return c, ids
}

// set moves a record to status through the jobstore.
func (b *bucket) set(t *testing.T, id string, status job.Status) {
	t.Helper()
	_, err := b.store.Update(b.ctx, id, func(r *job.Record) error { r.Status = status; return nil })
	require.NoError(t, err)
}

// mixedJobs writes jobs of every fate through the jobstore, as the
// services do: completed, failed, failed and re-queued, cancelled,
// rejected, purged, still queued and processing.
func (b *bucket) mixedJobs(t *testing.T, prefix string, base time.Time) {
	t.Helper()
	for i := range 12 {
		id := fmt.Sprintf("%s%02d", prefix, i)
		status := job.StatusQueued
		if i == 11 {
			status = job.StatusRejected
		}
		_, err := b.store.Create(b.ctx, job.Record{JobID: id, Status: status, Spec: job.Spec{Model: "demo", Prompt: id},
			CreatedAt: base.Add(time.Duration(i) * time.Second)})
		require.NoError(t, err)
		switch i % 6 {
		case 0:
			b.set(t, id, job.StatusProcessing)
			b.set(t, id, job.StatusCompleted)
		case 1:
			b.set(t, id, job.StatusFailed)
		case 2:
			b.set(t, id, job.StatusFailed)
			b.set(t, id, job.StatusQueued)
		case 3:
			b.set(t, id, job.StatusCancelled)
		case 4:
			b.set(t, id, job.StatusProcessing)
		}
	}
	b.set(t, prefix+"06", job.StatusCompleted) // processing → completed, then purged
	require.NoError(t, b.store.DeleteEnded(b.ctx, prefix+"06"))
}
