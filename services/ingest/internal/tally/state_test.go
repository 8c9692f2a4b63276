package tally

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/job"
	"cyberimage/shared/quota"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func limits(t *testing.T, s string) quota.Table {
	t.Helper()
	table, err := quota.Parse(s)
	require.NoError(t, err)
	return table
}

func queued(client string, at time.Time) *sighted {
	return &sighted{Status: job.StatusQueued, Client: client, CreatedAt: at}
}

func (s *state) usage(client string) (queued, recent int) {
	if u := s.clients[client]; u != nil {
		return u.queued, len(u.recent)
	}
	return 0, 0
}

// A burst is counted as it is admitted: exactly the cap gets through,
// whatever the watch has seen.
func TestReserveAdmitsExactlyTheCap(t *testing.T) {
	s := newState(limits(t, "*=3/0"))
	var refused []*Refusal
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		if _, r := s.reserve("alice", id, t0, t0); r != nil {
			refused = append(refused, r)
		}
	}
	require.Len(t, refused, 2)
	require.Equal(t, job.CodeQuotaExceeded, refused[0].Code)
	require.Equal(t, QueuedRetryAfter, refused[0].RetryAfter)
	require.Equal(t, 3, refused[0].Limit)
	q, _ := s.usage("alice")
	require.Equal(t, 3, q)
}

// The watch's sighting of a reserved job replaces the reservation (one
// count, not two); a release after it changes nothing; a job leaving
// queued frees room.
func TestSightingReplacesReservation(t *testing.T) {
	s := newState(limits(t, "*=2/0"))
	e, r := s.reserve("alice", "a", t0, t0)
	require.Nil(t, r)
	s.sight("a", queued("alice", t0), t0)
	s.release("a", e)
	q, _ := s.usage("alice")
	require.Equal(t, 1, q, "the sighting is the count")

	s.sight("a", &sighted{Status: job.StatusProcessing, Client: "alice", CreatedAt: t0}, t0)
	q, _ = s.usage("alice")
	require.Zero(t, q)
}

func TestReleaseTakesTheCountBack(t *testing.T) {
	s := newState(limits(t, "*=1/5"))
	e, r := s.reserve("alice", "a", t0, t0)
	require.Nil(t, r)
	s.release("a", e)
	q, recent := s.usage("alice")
	require.Zero(t, q)
	require.Zero(t, recent)
	require.Empty(t, s.jobs)
	require.Empty(t, s.clients)
	_, r = s.reserve("alice", "b", t0, t0)
	require.Nil(t, r)
}

// A job the tally already counts (a duplicate request, a redelivery)
// passes at the cap, without a second count.
func TestKnownJobPassesAtTheCap(t *testing.T) {
	s := newState(limits(t, "*=1/0"))
	s.sight("a", queued("alice", t0), t0)
	e, r := s.reserve("alice", "a", t0, t0)
	require.Nil(t, r)
	require.Nil(t, e)
	q, _ := s.usage("alice")
	require.Equal(t, 1, q)
	_, r = s.reserve("alice", "b", t0, t0)
	require.NotNil(t, r)
}

// The rate counts jobs accepted (by their created_at) in the last minute;
// the hint is when the oldest leaves the window.
func TestRateWindow(t *testing.T) {
	s := newState(limits(t, "*=0/2"))
	_, r := s.reserve("alice", "a", t0, t0)
	require.Nil(t, r)
	// Seen by the watch from another ingest, finished already: it still
	// counts against the rate.
	s.sight("b", &sighted{Status: job.StatusCompleted, Client: "alice", CreatedAt: t0.Add(10 * time.Second)}, t0.Add(20*time.Second))
	now := t0.Add(20*time.Second + 300*time.Millisecond)
	_, r = s.reserve("alice", "c", now, now)
	require.NotNil(t, r)
	require.Equal(t, job.CodeRateLimited, r.Code)
	require.Equal(t, 40*time.Second-300*time.Millisecond, r.RetryAfter)
	require.Equal(t, 40, r.RetryAfterS())

	now = t0.Add(Window)
	_, r = s.reserve("alice", "c", now, now)
	require.Nil(t, r, "a's minute is over")
	// A request stored in the stream over a minute ago (ingest was
	// down) is queued without counting against the rate.
	old := newState(limits(t, "*=0/1"))
	for _, id := range []string{"x", "y"} {
		_, r = old.reserve("alice", id, t0, t0.Add(2*Window))
		require.Nil(t, r)
	}
}

func TestRejectedAndUnlimitedAreNotCounted(t *testing.T) {
	s := newState(limits(t, "alice=1/1"))
	s.sight("r", &sighted{Status: job.StatusRejected, Client: "alice", CreatedAt: t0}, t0)
	for _, id := range []string{"a", "b", "c"} {
		_, r := s.reserve("bob", id, t0, t0)
		require.Nil(t, r, "bob has no limit")
	}
	s.sight("q", queued("bob", t0), t0)
	require.Empty(t, s.jobs, "only limited clients' jobs are kept")
	_, r := s.reserve("alice", "a", t0, t0)
	require.Nil(t, r, "clients count apart")
}

// A record rewritten without its client (a writer that rebuilt it) stays
// its client's; one from before clients were named is the default's.
func TestClientOfARecord(t *testing.T) {
	s := newState(limits(t, "*=0/5"))
	s.sight("a", queued("alice", t0), t0)
	s.sight("a", &sighted{Status: job.StatusProcessing, CreatedAt: t0}, t0)
	_, recent := s.usage("alice")
	require.Equal(t, 1, recent)
	s.sight("old", queued("", t0), t0)
	q, _ := s.usage("default")
	require.Equal(t, 1, q)
}

// A new watch counts the bucket anew: what it did not see is gone, but a
// reservation whose record is not written yet stays.
func TestSweepAfterANewWatch(t *testing.T) {
	s := newState(limits(t, "*=5/0"))
	s.sight("gone", queued("alice", t0), t0)
	s.begin()
	s.sight("kept", queued("alice", t0), t0)
	_, r := s.reserve("alice", "reserved", t0, t0)
	require.Nil(t, r)
	s.sweep()
	require.Contains(t, s.jobs, "kept")
	require.Contains(t, s.jobs, "reserved")
	require.NotContains(t, s.jobs, "gone")
	q, _ := s.usage("alice")
	require.Equal(t, 2, q)
}

// Jobs that only counted for the rate leave with their minute, and a
// client with nothing counted is forgotten: the state stays bounded.
func TestPruneForgetsTheMinute(t *testing.T) {
	s := newState(limits(t, "*=5/5"))
	s.sight("done", &sighted{Status: job.StatusCompleted, Client: "alice", CreatedAt: t0}, t0)
	s.sight("waiting", queued("bob", t0), t0)
	s.prune(t0.Add(Window))
	require.NotContains(t, s.clients, "alice")
	require.NotContains(t, s.jobs, "done")
	q, recent := s.usage("bob")
	require.Equal(t, 1, q)
	require.Zero(t, recent)
}

func TestRetryHintIsWholeSeconds(t *testing.T) {
	for d, want := range map[time.Duration]int{0: 1, time.Millisecond: 1, time.Second: 1, 1001 * time.Millisecond: 2, Window: 60} {
		require.Equal(t, want, (&Refusal{RetryAfter: d}).RetryAfterS(), "%s", d)
	}
	r := refusal("alice", quota.Limits{PerMinute: 1}, &usage{recent: map[string]time.Time{"future": t0.Add(time.Hour)}}, t0)
	require.Equal(t, Window, r.RetryAfter, "a clock ahead of ours waits at most a minute")
}

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
