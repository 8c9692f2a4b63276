package index

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/job"
)

// A restarted index follows on from the snapshot the leader saved: it
// agrees with a recount of the records written before and after it, and
// lists every job past the window by reading the bucket.
func TestIndexRestartsFromItsSnapshot(t *testing.T) {
	b := newBucket(t, 90*time.Second)
	ctx := b.ctx
	base := time.Now().Add(-time.Hour)
	b.mixedJobs(t, "a", base)

	start := func() *Index {
		return b.start(t, b.index(t, WithSnapshots(b.state), WithWindow(5)))
	}
	agrees := func(x *Index) {
		t.Helper()
		want, _ := b.recount(t)
		require.Eventually(t, func() bool { return x.Counts() == want }, 10*time.Second, 20*time.Millisecond,
			"index %+v, records %+v", x.Counts(), want)
	}
	first := start()
	agrees(first)
	first.saveIfChanged(ctx)
	require.NotZero(t, first.saved.Load())
	first.Stop(t.Context())

	// Life goes on while no supervisor runs: new jobs, a failed job
	// re-queued and completed, a completed one purged.
	b.mixedJobs(t, "b", base.Add(time.Minute))
	for _, s := range []job.Status{job.StatusQueued, job.StatusProcessing, job.StatusCompleted} {
		b.set(t, "a01", s)
	}
	require.NoError(t, b.store.DeleteEnded(ctx, "a00"))

	second := start()
	require.Equal(t, first.saved.Load(), second.st.base, "the second index began from the snapshot")
	agrees(second)
	d := second.Detailed(time.Now())
	require.Equal(t, second.Counts(), d.Counts)
	require.Equal(t, d.Counts, d.PerModel["demo"])

	// Every job once, newest first, across pages that reach past the
	// window of five.
	_, ids := b.recount(t)
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
	b.remake(t)
	third := start()
	require.Equal(t, Counts{}, third.Counts())
	require.Zero(t, third.st.base)
}
