package index

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"cyberimage/shared/job"
)

// fakeEntry is a KV entry as the watcher delivers it.
type fakeEntry struct {
	jetstream.KeyValueEntry
	key string
	val []byte
	op  jetstream.KeyValueOp
	rev uint64
	at  time.Time // when the server stored it
}

func (e fakeEntry) Key() string                     { return e.key }
func (e fakeEntry) Value() []byte                   { return e.val }
func (e fakeEntry) Operation() jetstream.KeyValueOp { return e.op }
func (e fakeEntry) Revision() uint64                { return e.rev }
func (e fakeEntry) Created() time.Time              { return e.at }

// handFed is an index with no bucket, fed entries by hand (putAt, del).
func handFed(t *testing.T) *Index { return New(nil, zaptest.NewLogger(t)) }

// putAt applies a record as the bucket's next revision, stored at at.
func putAt(t *testing.T, x *Index, rec job.Record, at time.Time) {
	t.Helper()
	data, err := json.Marshal(rec)
	require.NoError(t, err)
	x.apply(fakeEntry{key: rec.JobID, val: data, op: jetstream.KeyValuePut, rev: x.Revision() + 1, at: at}, at)
}

func del(x *Index, key string, body []byte, at time.Time) {
	x.apply(fakeEntry{key: key, op: jetstream.KeyValueDelete, val: body, rev: x.Revision() + 1, at: at}, at)
}

func TestDetailedCounts(t *testing.T) {
	t.Parallel()
	x := handFed(t)
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { v := now.Add(d); return &v }
	put := func(t *testing.T, x *Index, rec job.Record) { putAt(t, x, rec, now) }
	put(t, x, job.Record{JobID: "a", Status: job.StatusCompleted, Spec: job.Spec{Model: "demo"}, CreatedAt: now.Add(-time.Hour), StartedAt: at(-time.Hour), CompletedAt: at(-time.Hour + 2*time.Second)})
	put(t, x, job.Record{JobID: "b", Status: job.StatusCompleted, Spec: job.Spec{Model: "demo"}, CreatedAt: now.Add(-48 * time.Hour), StartedAt: at(-48 * time.Hour), CompletedAt: at(-48*time.Hour + 4*time.Second)})
	put(t, x, job.Record{JobID: "c", Status: job.StatusFailed, Spec: job.Spec{Model: "sd"}, CreatedAt: now.Add(-time.Minute)})
	put(t, x, job.Record{JobID: "d", Status: job.StatusProcessing, Spec: job.Spec{Model: "sd"}, CreatedAt: now, StartedAt: at(0)})
	put(t, x, job.Record{JobID: "e", Status: job.StatusQueued, Spec: job.Spec{Model: "demo"}, CreatedAt: now})
	put(t, x, job.Record{JobID: "f", Status: job.StatusRejected, CreatedAt: now})
	// A later write replaces the earlier one; a delete removes it.
	put(t, x, job.Record{JobID: "e", Status: job.StatusProcessing, Spec: job.Spec{Model: "demo"}, CreatedAt: now, StartedAt: at(-time.Second)})
	put(t, x, job.Record{JobID: "g", Status: job.StatusQueued, CreatedAt: now})
	del(x, "g", nil, now)

	d := x.Detailed(now)
	require.Equal(t, Counts{Pending: 0, Processing: 2, Completed: 2, Failed: 1, Rejected: 1, Total: 5}, d.Counts)
	require.Equal(t, Counts{Processing: 2, Completed: 1, Failed: 1, Rejected: 1, Total: 4}, d.Recent24h)
	require.InDelta(t, 3.0, d.AvgProcessingSeconds, 1e-9)
	require.InDelta(t, 100.0/3, d.FailureRatePercent, 1e-9)
	require.Equal(t, Counts{Processing: 1, Completed: 2, Total: 3}, d.PerModel["demo"])
	require.Equal(t, Counts{Processing: 1, Failed: 1, Total: 2}, d.PerModel["sd"])
	require.Equal(t, x.Counts(), d.Counts)

	running := x.Processing()
	require.Len(t, running, 2)
	require.Equal(t, "e", running[0].JobID, "oldest start first")
}

// TestRunClockIsServerTime: a job's run starts when the server stored the
// claim of its delivery; a later write under the same delivery keeps that
// start, a new delivery starts a new one, and the runner's own timestamps
// play no part.
func TestRunClockIsServerTime(t *testing.T) {
	t.Parallel()
	x := handFed(t)
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	skewed := t0.Add(-10 * time.Minute)
	d1 := &job.Delivery{StreamSeq: 5, Delivered: 1, Runner: "r1", StartedAt: skewed}
	putAt(t, x, job.Record{JobID: "a", Status: job.StatusQueued}, t0.Add(-time.Minute))
	require.True(t, x.Processing() == nil)
	putAt(t, x, job.Record{JobID: "a", Status: job.StatusProcessing, Delivery: d1}, t0)
	putAt(t, x, job.Record{JobID: "a", Status: job.StatusProcessing, Delivery: d1, Images: []string{"x"}}, t0.Add(time.Minute))
	got := x.Processing()
	require.Len(t, got, 1)
	require.Equal(t, t0, got[0].RunStartedAt)
	require.Equal(t, t0.Add(time.Minute), got[0].ChangedAt)

	d2 := &job.Delivery{StreamSeq: 5, Delivered: 2, Runner: "r2", StartedAt: skewed}
	putAt(t, x, job.Record{JobID: "a", Status: job.StatusProcessing, Delivery: d2}, t0.Add(2*time.Minute))
	require.Equal(t, t0.Add(2*time.Minute), x.Processing()[0].RunStartedAt)
}

// The last hour counts jobs by when they ended (the server's time of the
// ending write), whenever they were created.
func TestLastHourCountsJobsThatEndedInIt(t *testing.T) {
	t.Parallel()
	x := handFed(t)
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	old := now.Add(-48 * time.Hour)
	putAt(t, x, job.Record{JobID: "a", Status: job.StatusCompleted, CreatedAt: old}, now.Add(-10*time.Minute))
	putAt(t, x, job.Record{JobID: "b", Status: job.StatusCompleted, CreatedAt: old}, now.Add(-59*time.Minute))
	putAt(t, x, job.Record{JobID: "c", Status: job.StatusFailed, CreatedAt: now}, now.Add(-time.Minute))
	putAt(t, x, job.Record{JobID: "d", Status: job.StatusCompleted, CreatedAt: old}, now.Add(-2*time.Hour))
	putAt(t, x, job.Record{JobID: "e", Status: job.StatusProcessing, CreatedAt: now}, now)
	d := x.Detailed(now)
	require.Equal(t, 2, d.LastHour.Completed)
	require.Equal(t, 1, d.LastHour.Failed)
	require.InDelta(t, 100.0/3, d.LastHour.FailureRatePercent, 1e-9)
}
