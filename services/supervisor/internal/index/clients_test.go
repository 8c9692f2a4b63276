package index

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/job"
)

// TestClientFiguresCountJobsInFlightPerClient: queued and running jobs are
// counted against the client that sent them, records naming none against
// "default"; a job leaves its client's figures when it ends.
func TestClientFiguresCountJobsInFlightPerClient(t *testing.T) {
	t.Parallel()
	x := handFed(t)
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	put := func(id, client string, st job.Status) {
		putAt(t, x, job.Record{JobID: id, Client: client, Status: st, CreatedAt: now.Add(-time.Hour)}, now)
	}
	put("a1", "alice", job.StatusQueued)
	put("a2", "alice", job.StatusQueued)
	put("a3", "alice", job.StatusProcessing)
	put("b1", "http:submit", job.StatusQueued)
	put("d1", "", job.StatusProcessing)
	put("d2", "default", job.StatusQueued)
	put("e1", "bob", job.StatusCompleted)
	require.Equal(t, map[string]ClientFigures{
		"alice":       {Queued: 2, Running: 1},
		"http:submit": {Queued: 1},
		"default":     {Queued: 1, Running: 1},
	}, x.Clients(now), "old jobs: in flight, none accepted in the last minute; ended ones not at all")

	put("a1", "alice", job.StatusProcessing)
	put("a3", "alice", job.StatusCompleted)
	put("b1", "http:submit", job.StatusCancelled)
	require.Equal(t, ClientFigures{Queued: 1, Running: 1}, x.Clients(now)["alice"])
	require.NotContains(t, x.Clients(now), "http:submit", "nothing in flight, nothing recent")
}

// TestClientInFlightCountsFollowEachChange: the per-client queued and
// running counts, kept change by change, move with a job from queued to
// processing to completed (a record naming no client counts as
// "default"), and come back from a saved snapshot, then keep moving.
func TestClientInFlightCountsFollowEachChange(t *testing.T) {
	t.Parallel()
	x := handFed(t)
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	old := now.Add(-time.Hour) // out of the last minute: only the in-flight counts show
	put := func(x *Index, id, client string, st job.Status) {
		putAt(t, x, job.Record{JobID: id, Client: client, Status: st, CreatedAt: old}, now)
	}
	step := func(x *Index, want map[string]ClientFigures, why string) {
		t.Helper()
		require.Equal(t, want, x.Clients(now), why)
	}

	put(x, "a1", "alice", job.StatusQueued)
	put(x, "d1", "", job.StatusQueued)
	step(x, map[string]ClientFigures{"alice": {Queued: 1}, "default": {Queued: 1}}, "queued")
	put(x, "a1", "alice", job.StatusProcessing)
	put(x, "d1", "", job.StatusProcessing)
	step(x, map[string]ClientFigures{"alice": {Running: 1}, "default": {Running: 1}}, "processing")
	put(x, "a1", "alice", job.StatusProcessing) // a later write of the same run
	put(x, "d2", "default", job.StatusQueued)   // the default client, named
	step(x, map[string]ClientFigures{"alice": {Running: 1}, "default": {Queued: 1, Running: 1}}, "rewritten, and one more")
	put(x, "a1", "alice", job.StatusCompleted)
	step(x, map[string]ClientFigures{"default": {Queued: 1, Running: 1}}, "alice's job ended")

	// A snapshot, saved as the leader saves it and loaded as a new index
	// loads it, gives the same counts; they keep following changes.
	data, err := json.Marshal(x.snapshot())
	require.NoError(t, err)
	var snap snapshot
	require.NoError(t, json.Unmarshal(data, &snap))
	y := handFed(t)
	y.st = snap.restore(10)
	step(y, map[string]ClientFigures{"default": {Queued: 1, Running: 1}}, "loaded from the snapshot")
	put(y, "d1", "", job.StatusCompleted)
	step(y, map[string]ClientFigures{"default": {Queued: 1}}, "a loaded job ended")
	put(y, "d2", "default", job.StatusProcessing)
	step(y, map[string]ClientFigures{"default": {Running: 1}}, "a loaded job started")
	del(y, "d2", nil, now) // deleted by hand while in flight
	step(y, map[string]ClientFigures{}, "nothing in flight")
}

// TestClientFiguresCountTheLastMinutesAcceptances: a job counts as
// accepted once, by its creation time, for 60 seconds; rejected requests
// never count; a client quiet for a minute is let go of.
func TestClientFiguresCountTheLastMinutesAcceptances(t *testing.T) {
	t.Parallel()
	x := handFed(t)
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	accept := func(id, client string, st job.Status, age time.Duration) {
		putAt(t, x, job.Record{JobID: id, Client: client, Status: st, CreatedAt: now.Add(-age)}, now)
	}
	accept("a1", "alice", job.StatusQueued, 0)
	accept("a2", "alice", job.StatusCompleted, 10*time.Second) // seen first when it had already ended
	accept("a3", "alice", job.StatusQueued, 59*time.Second)
	accept("a4", "alice", job.StatusQueued, 61*time.Second) // before the minute
	accept("a5", "alice", job.StatusRejected, time.Second)
	accept("a1", "alice", job.StatusProcessing, 0) // a later write of the same job
	accept("s1", "", job.StatusQueued, time.Second)
	accept("f1", "bob", job.StatusQueued, -time.Hour) // a clock ahead counts as now
	got := x.Clients(now)
	require.Equal(t, 3, got["alice"].AcceptedLastMinute)
	require.Equal(t, 1, got["default"].AcceptedLastMinute)
	require.Equal(t, 1, got["bob"].AcceptedLastMinute)

	later := now.Add(2 * time.Second)
	require.Equal(t, 2, x.Clients(later)["alice"].AcceptedLastMinute, "a3 left the minute")
	gone := now.Add(time.Minute)
	require.Zero(t, x.Clients(gone)["alice"].AcceptedLastMinute)
	x.mu.Lock()
	x.st.accepted.prune(gone)
	held := len(x.st.accepted.byClient)
	x.mu.Unlock()
	require.Zero(t, held, "clients quiet for a minute are let go of")
}

// TestAcceptanceCountsAreBounded: however many client names arrive, the
// per-second counts are held for at most maxRateClients of them.
func TestAcceptanceCountsAreBounded(t *testing.T) {
	t.Parallel()
	a := newAcceptances()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for i := range maxRateClients + 100 {
		a.note(fmt.Sprintf("c%d", i), now, now)
	}
	require.Len(t, a.byClient, maxRateClients)
	a.note("late", now.Add(time.Minute), now.Add(time.Minute))
	require.Len(t, a.byClient, 1, "the quiet ones were pruned to make room")
}

// TestListFiltersByClient: ?client= lists one client's jobs; "default"
// includes records that name no client.
func TestListFiltersByClient(t *testing.T) {
	t.Parallel()
	x := handFed(t)
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for i, client := range []string{"alice", "", "default", "alice", "bob"} {
		putAt(t, x, job.Record{JobID: fmt.Sprintf("j%d", i), Client: client, Status: job.StatusQueued, CreatedAt: now.Add(time.Duration(i) * time.Second)}, now)
	}
	ids := func(client string) []string {
		page, _, err := x.List(context.Background(), Filter{Client: client}, nil, 10)
		require.NoError(t, err)
		var out []string
		for _, e := range page {
			out = append(out, e.JobID)
		}
		return out
	}
	require.Equal(t, []string{"j3", "j0"}, ids("alice"))
	require.Equal(t, []string{"j2", "j1"}, ids("default"))
	require.Len(t, ids(""), 5)

	// The snapshot keeps who sent each job in flight.
	snap := x.snapshot()
	restored := snap.restore(10)
	require.Equal(t, "alice", restored.inflight["j0"].Client)
}
