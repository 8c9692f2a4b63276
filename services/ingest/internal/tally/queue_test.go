package tally

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/job"
)

// Sightings out of creation order and again on each status change keep
// the rate's queue in time order and bounded: the hint comes from the
// oldest job counted, and pruning leaves exactly the jobs in the Window.
func TestRecentQueueOrderAndBound(t *testing.T) {
	s := newState(limits(t, "*=0/3"))
	s.sight("late", queued("alice", t0.Add(20*time.Second)), t0)
	s.sight("early", queued("alice", t0), t0)
	s.sight("mid", queued("alice", t0.Add(10*time.Second)), t0)
	for range 100 { // status changes: the same job sighted again
		s.sight("mid", &sighted{Status: job.StatusProcessing, Client: "alice", CreatedAt: t0.Add(10 * time.Second)}, t0)
	}
	u := s.clients["alice"]
	require.LessOrEqual(t, len(u.order), 2*len(u.recent)+8)
	_, r := s.reserve("alice", "x", t0.Add(30*time.Second), t0.Add(30*time.Second))
	require.NotNil(t, r)
	require.Equal(t, 30*time.Second, r.RetryAfter, "the oldest is early, at t0")

	now := t0.Add(Window + 5*time.Second) // early has left the Window
	_, r = s.reserve("alice", "y", now, now)
	require.Nil(t, r)
	_, recent := s.usage("alice")
	require.Equal(t, 3, recent) // late, mid, y
	require.Equal(t, "mid", u.order[0].id, "stale and out-of-Window heads are gone")
	require.True(t, s.jobs["early"].acceptedAt.IsZero(), "still queued, no longer counted against the rate")
}
