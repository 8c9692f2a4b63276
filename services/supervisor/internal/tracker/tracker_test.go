package tracker

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"cyberimage/shared/bus"
)

func TestRunnerHealthFollowsHeartbeats(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	tr := New(nil, 10*time.Second, nil, zaptest.NewLogger(t))
	tr.now = func() time.Time { return now }
	tr.runners["fresh"] = bus.Heartbeat{Runner: "fresh", At: now.Add(-2 * time.Second)}
	tr.runners["quiet"] = bus.Heartbeat{Runner: "quiet", At: now.Add(-11 * time.Second)}
	tr.runners["gone"] = bus.Heartbeat{Runner: "gone", At: now.Add(-101 * time.Second)}
	got := tr.Runners()
	require.Len(t, got, 2, "a runner silent for ten timeouts is forgotten")
	require.Equal(t, "fresh", got[0].Runner)
	require.Equal(t, "healthy", got[0].Health)
	require.Equal(t, "quiet", got[1].Runner)
	require.Equal(t, "lost", got[1].Health)
}

func TestForgetDropsEndedJobs(t *testing.T) {
	t.Parallel()
	tr := New(nil, time.Second, nil, zaptest.NewLogger(t))
	tr.progress["a"] = Progress{ProgressEvent: bus.ProgressEvent{JobID: "a", Step: 3}}
	tr.progress["b"] = Progress{ProgressEvent: bus.ProgressEvent{JobID: "b", Step: 1}}
	tr.Forget(map[string]bool{"a": true})
	_, okA := tr.Progress("a")
	_, okB := tr.Progress("b")
	require.True(t, okA)
	require.False(t, okB)
}
