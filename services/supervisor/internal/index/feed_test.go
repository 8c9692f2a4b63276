package index

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"cyberimage/shared/job"
)

// The feed hands over exactly the records that ended after it began and
// after the follower's own revision, in order; what did not end, or ended
// under another job's name, is not handed over, but the revision it covers
// moves on.
func TestFeedHandsOverWhatEnded(t *testing.T) {
	t.Parallel()
	x := handFed(t)
	now := time.Now()
	putAt(t, x, job.Record{JobID: "before", Status: job.StatusCompleted}, now) // rev 1: before the feed
	f, from := x.FollowEnded(10, 2)
	require.Equal(t, uint64(1), from)
	putAt(t, x, job.Record{JobID: "old", Status: job.StatusFailed}, now)      // rev 2: the follower has it
	putAt(t, x, job.Record{JobID: "a", Status: job.StatusQueued}, now)        // rev 3
	putAt(t, x, job.Record{JobID: "a", Status: job.StatusCompleted}, now)     // rev 4
	putAt(t, x, job.Record{JobID: "other", Status: job.StatusCompleted}, now) // rev 5
	putAt(t, x, job.Record{JobID: "c", Status: job.StatusCancelled}, now)     // rev 6
	x.apply(fakeEntry{key: "x", val: []byte(`{"job_id":"y","status":"completed"}`), op: jetstream.KeyValuePut, rev: 7, at: now}, now)
	putAt(t, x, job.Record{JobID: "d", Status: job.StatusProcessing}, now) // rev 8

	select {
	case <-f.Signal():
	default:
		t.Fatal("no signal after records ended")
	}
	items, covered, lost := f.Take()
	require.False(t, lost)
	require.Equal(t, uint64(8), covered)
	var got []string
	for _, e := range items {
		got = append(got, e.Record.JobID+"@"+string(e.Record.Status))
	}
	require.Equal(t, []string{"a@completed", "other@completed", "c@cancelled"}, got)
	require.Equal(t, uint64(4), items[0].Revision)

	items, covered, lost = f.Take()
	require.Empty(t, items)
	require.Equal(t, uint64(8), covered)
	require.False(t, lost)
}

// A follower that lets more records wait than the limit loses the feed
// (the index never waits for it); an unfollowed feed hears nothing more.
func TestFeedOverflowIsLost(t *testing.T) {
	t.Parallel()
	x := handFed(t)
	now := time.Now()
	f, _ := x.FollowEnded(2, 0)
	for _, id := range []string{"a", "b", "c"} {
		putAt(t, x, job.Record{JobID: id, Status: job.StatusCompleted}, now)
	}
	items, _, lost := f.Take()
	require.True(t, lost)
	require.Empty(t, items)

	g, _ := x.FollowEnded(2, 0)
	x.Unfollow(g)
	putAt(t, x, job.Record{JobID: "d", Status: job.StatusCompleted}, now)
	items, covered, lost := g.Take()
	require.Empty(t, items)
	require.False(t, lost)
	require.Equal(t, uint64(3), covered)
}
