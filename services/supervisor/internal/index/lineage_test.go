package index

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
)

var t0 = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)

func applyRec(t *testing.T, s *state, rev uint64, rec job.Record) {
	t.Helper()
	data, err := json.Marshal(rec)
	require.NoError(t, err)
	require.NoError(t, applyErr(s.apply(newChange(rec.JobID, rev, t0, jetstream.KeyValuePut, data), t0)))
}

// History keeps only each record's latest revision, so a reader that is
// behind never sees some of them. Counting stays exact: what the view holds
// (in flight, in the window) gives a job's previous status, and for the
// others the record's lineage does.
func TestCountsSurviveMissedRevisions(t *testing.T) {
	t.Parallel()
	s := newState(1)
	// The window keeps one job, the newest: "new" below.
	applyRec(t, s, 1, job.Record{JobID: "new", Status: job.StatusCompleted, CreatedAt: t0})

	// Seen queued, its claim missed, seen completed.
	applyRec(t, s, 2, job.Record{JobID: "a", Status: job.StatusQueued, CreatedAt: t0.Add(-time.Hour)})
	applyRec(t, s, 4, job.Record{JobID: "a", Status: job.StatusCompleted, CreatedAt: t0.Add(-time.Hour), FirstRevision: 2})
	// Created and completed between two reads: seen once, completed.
	applyRec(t, s, 6, job.Record{JobID: "b", Status: job.StatusCompleted, CreatedAt: t0.Add(-time.Hour), FirstRevision: 5})
	// Seen failed (and out of the window); its re-queue missed, its
	// completion seen: the lineage says it had ended failed.
	applyRec(t, s, 7, job.Record{JobID: "c", Status: job.StatusFailed, CreatedAt: t0.Add(-2 * time.Hour)})
	applyRec(t, s, 9, job.Record{JobID: "c", Status: job.StatusCompleted, CreatedAt: t0.Add(-2 * time.Hour), FirstRevision: 7, SettledAs: job.StatusFailed})

	require.Equal(t, Counts{Completed: 4, Total: 4}, s.tally.totals())
	require.Empty(t, s.inflight)
}

// A view restored from a snapshot catches up on the revisions after it:
// each key is then seen once, at its latest revision, and its first
// revision tells whether the snapshot counted it.
func TestCatchUpAfterASnapshotCountsEachJobOnce(t *testing.T) {
	t.Parallel()
	s := newState(1)
	s.tally.count("", job.StatusCompleted, t0.Add(-48*time.Hour), 2, t0) // "f-done" and "h" below
	s.tally.count("", job.StatusFailed, t0.Add(-48*time.Hour), 1, t0)    // "f"
	s.revision, s.base, s.catchUp = 10, 10, 20

	// Created after the snapshot: not counted in it.
	applyRec(t, s, 15, job.Record{JobID: "e", Status: job.StatusCompleted, CreatedAt: t0.Add(-48 * time.Hour), FirstRevision: 12})
	// Failed at the snapshot, re-queued and completed since.
	applyRec(t, s, 16, job.Record{JobID: "f", Status: job.StatusCompleted, CreatedAt: t0.Add(-48 * time.Hour), FirstRevision: 3, SettledAs: job.StatusFailed})
	// Created, failed and re-queued since the snapshot: its earlier ending
	// was never counted, so nothing is taken from failed.
	applyRec(t, s, 17, job.Record{JobID: "g", Status: job.StatusQueued, CreatedAt: t0.Add(-48 * time.Hour), FirstRevision: 13, SettledAs: job.StatusFailed})
	// Completed at the snapshot, purged since: the tombstone says so.
	body, err := json.Marshal(jobstore.Tombstone{Status: job.StatusCompleted, CreatedAt: t0.Add(-48 * time.Hour), FirstRevision: 2})
	require.NoError(t, err)
	require.NoError(t, applyErr(s.apply(newChange("h", 18, t0, jetstream.KeyValueDelete, body), t0)))
	// A retention marker: the job stays counted as what it ended as.
	require.NoError(t, applyErr(s.apply(newChange("f-done", 19, t0, jetstream.KeyValuePurge, nil), t0)))

	require.Equal(t, Counts{Pending: 1, Completed: 3, Total: 4}, s.tally.totals())
	// After the catch-up, a job seen for the first time with a lineage is
	// one the view counted when it ended.
	applyRec(t, s, 30, job.Record{JobID: "e", Status: job.StatusQueued, CreatedAt: t0.Add(-48 * time.Hour), FirstRevision: 12, SettledAs: job.StatusCompleted})
	require.Equal(t, Counts{Pending: 2, Completed: 2, Total: 4}, s.tally.totals())
}

// The window keeps the newest jobs by creation, up to its size (plus the
// slack that spares a sort per job), and every job at or above its floor.
func TestWindowKeepsTheNewestJobs(t *testing.T) {
	t.Parallel()
	w := newWindow(8)
	for i := range 40 {
		w.put(Entry{JobID: string(rune('A' + i)), CreatedAt: t0.Add(time.Duration(i) * time.Second)})
	}
	require.NotNil(t, w.floor)
	require.LessOrEqual(t, len(w.entries), 9)
	for i := range 40 {
		e := Entry{JobID: string(rune('A' + i)), CreatedAt: t0.Add(time.Duration(i) * time.Second)}
		_, in := w.get(e.JobID)
		require.Equal(t, w.covers(e), in, "job %d", i)
		if i >= 32 {
			require.True(t, in, "the newest eight are kept: %d", i)
		}
	}
	// An old job changing status does not come back into the window.
	w.put(Entry{JobID: "A", CreatedAt: t0, Status: job.StatusQueued})
	_, in := w.get("A")
	require.False(t, in)
}

// applyErr is apply's error.
func applyErr(_ job.Record, _ bool, err error) error { return err }
