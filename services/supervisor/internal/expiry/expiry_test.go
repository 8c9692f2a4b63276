package expiry

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/services/supervisor/internal/index"
	"cyberimage/services/supervisor/internal/leaderpass/leaderpasstest"
	"cyberimage/shared/bus"
	"cyberimage/shared/job"
)

// TestExpiresOnlyQueuedJobsPastTheirDeadline: of the jobs in flight, only
// those queued, never started and past their deadline end cancelled with
// deadline_exceeded, and their work leaves the queue; one the index still
// sees queued but that a runner claimed since goes on, and a second pass
// finds nothing more to do.
func TestExpiresOnlyQueuedJobsPastTheirDeadline(t *testing.T) {
	_, js, store := leaderpasstest.Store(t)
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	past, ahead := now.Add(-time.Second), now.Add(time.Minute)
	spec := func(p job.Priority, deadline time.Time) job.Spec {
		return job.Spec{Prompt: "p", Model: "demo", Width: 64, Height: 64, Steps: 1, NumImages: 1, Priority: p, Deadline: deadline}
	}
	records := []job.Record{
		{JobID: "late-high", Status: job.StatusQueued, Spec: spec(job.PriorityHigh, past)},
		{JobID: "late-normal", Status: job.StatusQueued, Spec: spec(job.PriorityNormal, now)},
		{JobID: "in-time", Status: job.StatusQueued, Spec: spec(job.PriorityLow, ahead)},
		{JobID: "no-deadline", Status: job.StatusQueued, Spec: spec(job.PriorityNormal, time.Time{})},
		// Taken back from a runner after it started in time: it goes on.
		{JobID: "started", Status: job.StatusQueued, Spec: spec(job.PriorityNormal, past), StartedAt: job.UTC(past.Add(-time.Minute))},
		{JobID: "running", Status: job.StatusProcessing, Spec: spec(job.PriorityNormal, past), StartedAt: job.UTC(past.Add(-time.Minute))},
		// Claimed since the index saw it queued.
		{JobID: "claimed", Status: job.StatusQueued, Spec: spec(job.PriorityHigh, past)},
	}
	var entries leaderpasstest.Jobs
	for _, rec := range records {
		_, err := store.Create(ctx, rec)
		require.NoError(t, err)
		w := bus.Work{JobID: rec.JobID, Spec: rec.Spec}
		_, err = js.PublishMsg(ctx, bus.WorkMsg(w, bus.QueueMsgID(rec.JobID)))
		require.NoError(t, err)
		entries = append(entries, index.Entry{JobID: rec.JobID, Status: rec.Status, Model: "demo", StartedAt: rec.StartedAt,
			Priority: rec.Spec.Priority, Deadline: rec.Spec.Deadline})
	}
	_, err := store.Update(ctx, "claimed", func(r *job.Record) error {
		return job.Claim(r, job.Delivery{StreamSeq: 1, Delivered: 1, Runner: "r1"}, past)
	})
	require.NoError(t, err)

	s := New(Params{JS: js, Store: store, Jobs: entries, Deps: leaderpasstest.At(t, now)})
	n, err := s.runOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, n)

	stream, err := js.Stream(ctx, bus.StreamJobs)
	require.NoError(t, err)
	for _, rec := range records {
		got, _, err := store.Get(ctx, rec.JobID)
		require.NoError(t, err)
		_, lookup := stream.GetLastMsgForSubject(ctx, bus.WorkSubject("demo", rec.Spec.Priority, rec.JobID))
		if rec.JobID == "late-high" || rec.JobID == "late-normal" {
			require.Equal(t, job.StatusCancelled, got.Status, rec.JobID)
			require.Equal(t, job.CodeDeadlineExceeded, got.Error.Code)
			require.True(t, got.CompletedAt.Equal(now))
			require.Error(t, lookup, "%s: the expired work left the queue", rec.JobID)
			continue
		}
		require.NotEqual(t, job.StatusCancelled, got.Status, rec.JobID)
		require.NoError(t, lookup, "%s: its work stays queued", rec.JobID)
	}

	n, err = s.runOnce(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "an expired job is not expired again")
}
