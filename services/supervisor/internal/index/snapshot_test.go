package index

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
	"cyberimage/shared/testenv"
)

// recount counts the records in the bucket, as the index should.
func recount(t *testing.T, ctx context.Context, store *jobstore.Store) (Counts, []string) {
	t.Helper()
	keys, err := store.KV().ListKeys(ctx)
	require.NoError(t, err)
	var c Counts
	var ids []string
	for key := range keys.Keys() {
		rec, _, err := store.Get(ctx, key)
		require.NoError(t, err)
		c.add(rec.Status, 1)
		ids = append(ids, key)
	}
	return c, ids
}

// mixedJobs writes jobs of every fate through the jobstore, as the
// services do: completed, failed, failed and re-queued, cancelled,
// rejected, purged, still queued and processing.
func mixedJobs(t *testing.T, ctx context.Context, store *jobstore.Store, prefix string, base time.Time) {
	t.Helper()
	set := func(id string, s job.Status) {
		_, err := store.Update(ctx, id, func(r *job.Record) error { r.Status = s; return nil })
		require.NoError(t, err)
	}
	for i := range 12 {
		id := fmt.Sprintf("%s%02d", prefix, i)
		status := job.StatusQueued
		if i == 11 {
			status = job.StatusRejected
		}
		_, err := store.Create(ctx, job.Record{JobID: id, Status: status, Spec: job.Spec{Model: "demo", Prompt: id},
			CreatedAt: base.Add(time.Duration(i) * time.Second)})
		require.NoError(t, err)
		switch i % 6 {
		case 0:
			set(id, job.StatusProcessing)
			set(id, job.StatusCompleted)
		case 1:
			set(id, job.StatusFailed)
		case 2:
			set(id, job.StatusFailed)
			set(id, job.StatusQueued)
		case 3:
			set(id, job.StatusCancelled)
		case 4:
			set(id, job.StatusProcessing)
		}
	}
	set(prefix+"06", job.StatusCompleted) // processing → completed, then purged
	require.NoError(t, store.DeleteEnded(ctx, prefix+"06"))
}

// A restarted index follows on from the snapshot the leader saved: it
// agrees with a recount of the records written before and after it, and
// lists every job past the window by reading the bucket.
func TestIndexRestartsFromItsSnapshot(t *testing.T) {
	n := testenv.StartNATS(t)
	_, js := n.Provisioned(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	store, err := jobstore.Open(ctx, js)
	require.NoError(t, err)
	state, err := js.KeyValue(ctx, bus.BucketSupervisor)
	require.NoError(t, err)
	base := time.Now().Add(-time.Hour)
	mixedJobs(t, ctx, store, "a", base)

	start := func() *Index {
		x := New(store.KV(), zaptest.NewLogger(t), WithSnapshots(state), WithWindow(5))
		require.NoError(t, x.Start(ctx))
		t.Cleanup(x.Stop)
		<-x.Ready()
		return x
	}
	agrees := func(x *Index) {
		t.Helper()
		want, _ := recount(t, ctx, store)
		require.Eventually(t, func() bool { return x.Counts() == want }, 10*time.Second, 20*time.Millisecond,
			"index %+v, records %+v", x.Counts(), want)
	}
	first := start()
	agrees(first)
	first.saveIfChanged(ctx)
	require.NotZero(t, first.saved.Load())
	first.Stop()

	// Life goes on while no supervisor runs: new jobs, a failed job
	// re-queued and completed, a completed one purged.
	mixedJobs(t, ctx, store, "b", base.Add(time.Minute))
	for _, s := range []job.Status{job.StatusQueued, job.StatusProcessing, job.StatusCompleted} {
		_, err := store.Update(ctx, "a01", func(r *job.Record) error { r.Status = s; return nil })
		require.NoError(t, err)
	}
	require.NoError(t, store.DeleteEnded(ctx, "a00"))

	second := start()
	require.Equal(t, first.saved.Load(), second.st.base, "the second index began from the snapshot")
	agrees(second)
	d := second.Detailed(time.Now())
	require.Equal(t, second.Counts(), d.Counts)
	require.Equal(t, d.Counts, d.PerModel["demo"])

	// Every job once, newest first, across pages that reach past the
	// window of five.
	_, ids := recount(t, ctx, store)
	var listed []string
	var after *Cursor
	for {
		page, next, err := second.List(ctx, Filter{}, after, 4)
		require.NoError(t, err)
		for i, e := range page {
			listed = append(listed, e.JobID)
			if i > 0 {
				require.True(t, newer(page[i-1], e), "newest first")
			}
		}
		if next == nil {
			break
		}
		after = next
	}
	require.ElementsMatch(t, ids, listed)
	failed, _, err := second.List(ctx, Filter{Status: job.StatusFailed}, nil, 100)
	require.NoError(t, err)
	require.Len(t, failed, d.Failed)

	// A bucket the snapshot is not of (made again) is counted anew.
	require.NoError(t, js.DeleteStream(ctx, "KV_"+bus.BucketJobs))
	require.NoError(t, bus.Ensure(ctx, js, bus.DefaultSettings()))
	third := start()
	require.Equal(t, Counts{}, third.Counts())
	require.Zero(t, third.st.base)
}
