package e2e

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/job"
)

// TestPriorityOrderUnderLoad: a batch of low jobs is queued while no runner
// runs, then a few interactive high jobs of the same model; once a runner
// (one slot) starts, the high jobs start long before the batch is done,
// and every job completes once. While both classes have work a pull takes
// high with chance 6/7, so the 5 high jobs start within the first 15
// unless 10 low ones come first: a chance of about 2 in a million (the
// order is drawn; under FIFO all 20 low jobs would start first).
func TestPriorityOrderUnderLoad(t *testing.T) {
	const lows, highs = 20, 5
	s := newStack(t)
	s.startFront()
	for i := range lows {
		r := request(t, s.client, fmtReq(fmt.Sprintf("batch %d", i), 64, 64, 1, `,"priority":"low"`))
		require.Equal(t, job.StatusQueued, r.Status)
	}
	var high []string
	for i := range highs {
		r := request(t, s.client, fmtReq(fmt.Sprintf("interactive %d", i), 64, 64, 1, `,"priority":"high"`))
		require.Equal(t, job.StatusQueued, r.Status)
		high = append(high, r.JobID)
	}
	require.Equal(t, uint64(lows+highs), s.jobsInStream())

	s.startRunner("runner-a")
	recs := s.waitEnded(lows+highs, 2*time.Minute)
	s.requireCompletedOnce(recs)
	order := make([]job.Record, 0, len(recs))
	for _, r := range recs {
		order = append(order, r)
	}
	sort.Slice(order, func(i, j int) bool { return order[i].StartedAt.Before(*order[j].StartedAt) })
	isHigh := map[string]bool{}
	for _, id := range high {
		isHigh[id] = true
		require.Equal(t, job.PriorityHigh, recs[id].Spec.Priority)
	}
	lowsFirst, seen := 0, 0
	var started []string
	for _, r := range order {
		started = append(started, string(r.Spec.Priority))
		if isHigh[r.JobID] {
			seen++
			if seen == highs {
				break
			}
			continue
		}
		lowsFirst++
	}
	t.Logf("%d low jobs started before the last of the %d high ones (FIFO: %d): %v", lowsFirst, highs, lows, started)
	require.Less(t, lowsFirst, 10, "low jobs started before the last high one: %v", started)
	require.Zero(t, s.jobsInStream())
}

// TestDeadlinePassesWhileQueued: with no runner, a job whose deadline
// passes in the queue ends cancelled with deadline_exceeded, by the
// supervisor alone: its work leaves the queue, and a runner started
// afterwards never touches it. A deadline already past is refused.
func TestDeadlinePassesWhileQueued(t *testing.T) {
	s := newStack(t)
	s.startFront()
	r := request(t, s.client, fmtReq("too late", 64, 64, 1, `,"expires_in":1`))
	require.Equal(t, job.StatusQueued, r.Status)
	past := request(t, s.client, fmtReq("already late", 64, 64, 1, `,"deadline":"2020-01-01T00:00:00Z"`))
	require.Equal(t, job.StatusRejected, past.Status)
	require.Equal(t, job.CodeDeadlineOutOfRange, past.Error.Code)

	var rec job.Record
	require.Eventually(t, func() bool {
		rec = s.records()[r.JobID]
		return rec.Status == job.StatusCancelled
	}, 15*time.Second, 50*time.Millisecond, "the job past its deadline stayed %s", rec.Status)
	require.Equal(t, job.CodeDeadlineExceeded, rec.Error.Code)
	require.False(t, rec.CompletedAt.Before(rec.Spec.Deadline), "ended at %s, before its deadline %s", rec.CompletedAt, rec.Spec.Deadline)
	require.Zero(t, s.jobsInStream(), "the expired work left the queue")

	s.startRunner("runner-a")
	next := request(t, s.client, fmtReq("in time", 64, 64, 1, `,"expires_in":60`))
	recs := s.waitEnded(2, time.Minute) // the refused request has no request_id: no record
	require.Equal(t, job.StatusCompleted, recs[next.JobID].Status)
	expired := recs[r.JobID]
	require.Equal(t, job.StatusCancelled, expired.Status)
	require.Equal(t, job.CodeDeadlineExceeded, expired.Error.Code)
	require.Zero(t, expired.Attempts, "no runner claimed it")
	require.Nil(t, expired.StartedAt)
	require.Empty(t, expired.Runner)
	require.Zero(t, s.completions.of(r.JobID))
}

// TestDeadlinePassesWhileRunning: the deadline is about starting: a job
// whose deadline passes while a runner holds it goes on and completes. The
// job starts within milliseconds of its request and runs about 3 s on 2
// cores (2048² at 50 steps), its deadline 2 s after the request.
func TestDeadlinePassesWhileRunning(t *testing.T) {
	s := newStack(t)
	ev := s.startAll("runner-a")
	r := s.requestUntil(ev, "runner-a", 1, fmtReq("long job", 2048, 2048, 1, `,"steps":50,"expires_in":2`))
	recs := s.waitEnded(1, 2*time.Minute)
	rec := recs[r.JobID]
	s.requireCompletedOnce(recs, r.JobID)
	require.True(t, rec.StartedAt.Before(rec.Spec.Deadline), "started %s, deadline %s", rec.StartedAt, rec.Spec.Deadline)
	require.True(t, rec.CompletedAt.After(rec.Spec.Deadline), "completed %s, before its deadline %s: the run was too short to test (stages %+v)",
		rec.CompletedAt, rec.Spec.Deadline, rec.Stages)
}
