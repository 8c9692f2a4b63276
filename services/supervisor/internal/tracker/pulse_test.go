package tracker

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/bus"
)

func beatWith(runner string, jobs ...bus.HeldJob) bus.Heartbeat {
	h := heartbeat(runner)
	h.Jobs = append([]bus.HeldJob{}, jobs...)
	return h
}

// TestPulsesComeFromTheHoldersOwnHeartbeats: a delivery's progress moves
// when its runner's heartbeat reports a new step and only then; another
// runner naming the same job and delivery in its own heartbeat changes
// nothing; a runner whose heartbeats carry no steps is taken as advancing
// while it heartbeats (its events are not followed); a runner not heard is
// not reported.
func TestPulsesComeFromTheHoldersOwnHeartbeats(t *testing.T) {
	t.Parallel()
	tr, clock := newTestTracker(t, 10*time.Second)
	job := bus.HeldJob{JobID: "J1", Delivery: "7.1", Step: 0, TotalSteps: 50}
	tr.noteHeartbeat(beatWith("r1", job))
	at, reported := tr.Pulse("J1", "7.1", "r1")
	require.True(t, reported)
	require.True(t, at.IsZero(), "no step yet")

	clock.advance(2 * time.Second)
	job.Step = 3
	tr.noteHeartbeat(beatWith("r1", job))
	moved := clock.now()
	at, _ = tr.Pulse("J1", "7.1", "r1")
	require.Equal(t, moved, at)

	clock.advance(2 * time.Second)
	tr.noteHeartbeat(beatWith("r1", job)) // same step: no progress
	at, _ = tr.Pulse("J1", "7.1", "r1")
	require.Equal(t, moved, at)

	// A forger's heartbeat naming r1's job and delivery, step moving.
	clock.advance(2 * time.Second)
	forged := job
	forged.Step = 40
	tr.noteHeartbeat(beatWith("r2", forged))
	at, _ = tr.Pulse("J1", "7.1", "r1")
	require.Equal(t, moved, at, "another runner cannot speak for r1's delivery")

	// Another delivery of the same job is not this one's progress.
	at, reported = tr.Pulse("J1", "7.2", "r1")
	require.True(t, reported)
	require.True(t, at.IsZero())

	// Done with: r1 no longer holds it.
	tr.noteHeartbeat(beatWith("r1"))
	at, reported = tr.Pulse("J1", "7.1", "r1")
	require.True(t, reported)
	require.True(t, at.IsZero())

	// An older runner, without steps in its heartbeats.
	clock.advance(2 * time.Second)
	tr.noteHeartbeat(heartbeat("old"))
	at, reported = tr.Pulse("J9", "1.1", "old")
	require.True(t, reported)
	require.Equal(t, clock.now(), at, "advancing while it heartbeats")
	_, reported = tr.Pulse("J9", "1.1", "unheard")
	require.False(t, reported)
}
