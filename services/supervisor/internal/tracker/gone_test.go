package tracker

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/bus"
)

// lostAfter is the silence after which the loss tests call a runner gone.
const lostAfter = 6 * time.Second

// listeningTracker is a test tracker (runner timeout 10 s) that has been
// listening since its clock's start: it judges runners once they are
// silent for lostAfter.
func listeningTracker(t *testing.T) (*Tracker, *fakeClock) {
	t.Helper()
	tr, clock := newTestTracker(t, 10*time.Second)
	tr.listening = clock.now()
	return tr, clock
}

// bootBeat is a heartbeat from the runner process boot, holding jobs.
func bootBeat(runner, boot string, jobs ...bus.HeldJob) bus.Heartbeat {
	h := beatWith(runner, jobs...)
	h.Boot = boot
	return h
}

// TestGone: a runner is gone when silent past the threshold, or when it
// came back as another incarnation; never before the tracker has listened
// that long itself, and never while it keeps beating as the same process.
func TestGone(t *testing.T) {
	t.Parallel()
	tr, clock := listeningTracker(t)
	_, gone := tr.Gone("unheard", "b1", lostAfter)
	require.False(t, gone, "a supervisor that just started judges nobody")

	beat := bootBeat("r1", "b1")
	for range 5 {
		tr.noteHeartbeat(beat)
		clock.advance(2 * time.Second)
		_, gone := tr.Gone("r1", "b1", lostAfter)
		require.False(t, gone, "a beating runner is alive")
	}
	why, gone := tr.Gone("unheard", "b1", lostAfter)
	require.True(t, gone, "a runner never heard while the tracker listened 10 s")
	require.Contains(t, why, "no heartbeat")

	clock.advance(lostAfter) // 8 s since r1's last beat
	why, gone = tr.Gone("r1", "b1", lostAfter)
	require.True(t, gone)
	require.Contains(t, why, "no heartbeat from runner r1")

	tr.noteHeartbeat(bootBeat("r1", "b2"))
	why, gone = tr.Gone("r1", "b1", lostAfter)
	require.True(t, gone, "the delivery of the old incarnation")
	require.Contains(t, why, "restarted")
	_, gone = tr.Gone("r1", "b2", lostAfter)
	require.False(t, gone, "the new incarnation's own deliveries")
	_, gone = tr.Gone("r1", "", lostAfter)
	require.False(t, gone, "a claim from before boots were recorded is judged by silence alone")
}
