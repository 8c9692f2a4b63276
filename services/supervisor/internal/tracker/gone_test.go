package tracker

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestGone: a runner is gone when silent past the threshold, or when it
// came back as another incarnation; never before the tracker has listened
// that long itself, and never while it keeps beating as the same process.
func TestGone(t *testing.T) {
	t.Parallel()
	tr, clock := newTestTracker(t, 10*time.Second)
	const after = 6 * time.Second
	tr.listening = clock.now()
	_, gone := tr.Gone("unheard", "b1", after)
	require.False(t, gone, "a supervisor that just started judges nobody")

	beat := heartbeat("r1")
	beat.Boot = "b1"
	for range 5 {
		tr.noteHeartbeat(beat)
		clock.advance(2 * time.Second)
		_, gone := tr.Gone("r1", "b1", after)
		require.False(t, gone, "a beating runner is alive")
	}
	why, gone := tr.Gone("unheard", "b1", after)
	require.True(t, gone, "a runner never heard while the tracker listened 10 s")
	require.Contains(t, why, "no heartbeat")

	clock.advance(after) // 8 s since r1's last beat
	why, gone = tr.Gone("r1", "b1", after)
	require.True(t, gone)
	require.Contains(t, why, "no heartbeat from runner r1")

	reborn := heartbeat("r1")
	reborn.Boot = "b2"
	tr.noteHeartbeat(reborn)
	why, gone = tr.Gone("r1", "b1", after)
	require.True(t, gone, "the delivery of the old incarnation")
	require.Contains(t, why, "restarted")
	_, gone = tr.Gone("r1", "b2", after)
	require.False(t, gone, "the new incarnation's own deliveries")
	_, gone = tr.Gone("r1", "", after)
	require.False(t, gone, "a claim from before boots were recorded is judged by silence alone")
}
