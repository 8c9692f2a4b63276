package tracker

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
)

// TestProgressComesFromTheHoldersHeartbeats: a job's progress is what the
// heartbeat of the runner holding it lists, its time moves only with its
// step, and it goes when the runner no longer holds it.
func TestProgressComesFromTheHoldersHeartbeats(t *testing.T) {
	t.Parallel()
	tr, clock := newTestTracker(t, 10*time.Second)
	j := bus.HeldJob{JobID: "J1", Delivery: "7.1", Step: 3, TotalSteps: 50}
	tr.noteHeartbeat(beatWith("r1", j))
	first := clock.now()
	p, ok := tr.Progress("J1")
	require.True(t, ok)
	require.Equal(t, bus.ProgressEvent{JobID: "J1", Status: job.StatusProcessing, Step: 3, TotalSteps: 50, Runner: "r1", Delivery: "7.1", At: first},
		p.ProgressEvent)
	require.Equal(t, first, p.ReceivedAt)

	clock.advance(2 * time.Second)
	tr.noteHeartbeat(beatWith("r1", j)) // the same step
	p, _ = tr.Progress("J1")
	require.Equal(t, first, p.ReceivedAt, "no progress without a new step")

	clock.advance(2 * time.Second)
	j.Step = 4
	tr.noteHeartbeat(beatWith("r1", j))
	p, _ = tr.Progress("J1")
	require.Equal(t, 4, p.Step)
	require.Equal(t, clock.now(), p.ReceivedAt)

	tr.noteHeartbeat(beatWith("r1"))
	_, ok = tr.Progress("J1")
	require.False(t, ok, "ended or handed back")
}

// TestTheLatestDeliveryIsTheJobsProgress: while the runner of an earlier
// delivery still lists it (handed back, not yet let go), the job's
// progress is the later delivery's, whichever heartbeat came last; its
// runner letting go of the earlier one leaves the later one.
func TestTheLatestDeliveryIsTheJobsProgress(t *testing.T) {
	t.Parallel()
	tr, clock := newTestTracker(t, 10*time.Second)
	earlier := bus.HeldJob{JobID: "J1", Delivery: "7.1", Step: 30, TotalSteps: 50}
	later := bus.HeldJob{JobID: "J1", Delivery: "7.2", Step: 2, TotalSteps: 50}
	tr.noteHeartbeat(beatWith("r1", earlier))
	clock.advance(time.Second)
	tr.noteHeartbeat(beatWith("r2", later))
	clock.advance(time.Second)
	earlier.Step = 31
	tr.noteHeartbeat(beatWith("r1", earlier))
	p, _ := tr.Progress("J1")
	require.Equal(t, "7.2", p.Delivery)
	require.Equal(t, 2, p.Step)

	tr.noteHeartbeat(beatWith("r1"))
	p, ok := tr.Progress("J1")
	require.True(t, ok)
	require.Equal(t, "r2", p.Runner)

	require.True(t, laterDelivery("8.1", "7.9"), "queued again by a retry")
	require.True(t, laterDelivery("7.10", "7.9"))
	require.False(t, laterDelivery("junk", "7.1"))
}
