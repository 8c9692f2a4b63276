package tracker

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/bus"
)

// TestOrphansOfGoneProcesses: a runner restarted under its name leaves the
// deliveries its old process listed; a runner silent past the threshold
// leaves those of its last heartbeat; each is returned once, none before
// the tracker has listened that long, and the status view never shows a
// delivery's reply subject.
func TestOrphansOfGoneProcesses(t *testing.T) {
	t.Parallel()
	tr, clock := listeningTracker(t)
	held := bus.HeldJob{JobID: "P1", Delivery: "9.1", AckSubject: "$JS.ACK.CYBERIMAGE_JOBS.gpu-runners-demo.1.9.1.0.0"}

	tr.noteHeartbeat(bootBeat("r1", "b1", held))
	require.Empty(t, tr.Orphans(lostAfter), "alive, and the tracker has not listened long enough")
	require.Empty(t, tr.Runners()[0].Jobs[0].AckSubject, "the view hides reply subjects")

	reborn := bootBeat("r1", "b2")
	tr.noteHeartbeat(reborn)
	got := tr.Orphans(lostAfter)
	require.Equal(t, []Orphan{{Runner: "r1", Job: held}}, got, "the old process's delivery, at once")
	require.Empty(t, tr.Orphans(lostAfter), "once")

	tr.noteHeartbeat(bootBeat("r2", "b9", bus.HeldJob{JobID: "P2", Delivery: "10.1", AckSubject: "s"}))
	clock.advance(lostAfter + time.Second)
	tr.noteHeartbeat(reborn) // r1 alive and idle
	got = tr.Orphans(lostAfter)
	require.Len(t, got, 1)
	require.Equal(t, "r2", got[0].Runner)
	require.Equal(t, "P2", got[0].Job.JobID)
	clock.advance(time.Second)
	require.Empty(t, tr.Orphans(lostAfter), "once per last heartbeat")
}

// TestHandedBackIsPrunedWithItsRunner: what was handed back is forgotten
// once the runner itself is pruned.
func TestHandedBackIsPrunedWithItsRunner(t *testing.T) {
	t.Parallel()
	tr, clock := listeningTracker(t)
	h := beatWith("gone", bus.HeldJob{JobID: "P1", Delivery: "1.1", AckSubject: "s"})
	tr.noteHeartbeat(h)
	clock.advance(7 * time.Second)
	require.Len(t, tr.Orphans(6*time.Second), 1)
	require.Len(t, tr.handedBack, 1)
	clock.advance(time.Hour)
	tr.prune()
	require.Empty(t, tr.handedBack)
}
