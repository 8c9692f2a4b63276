package tracker

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/testenv"
)

// fakeClock is the tracker's clock in tests: it moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *fakeClock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// newTestTracker is a tracker on a fake clock, fed by calls rather than
// by NATS.
func newTestTracker(t *testing.T, runnerTimeout time.Duration, opts ...Option) (*Tracker, *fakeClock) {
	t.Helper()
	clock := &fakeClock{t: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)}
	tr := New(nil, runnerTimeout, nil, zaptest.NewLogger(t), opts...)
	tr.now = clock.now
	return tr, clock
}

func heartbeat(runner string) bus.Heartbeat { return bus.Heartbeat{Runner: runner, Slots: 1} }

func event(jobID string, status job.Status) bus.ProgressEvent {
	return bus.ProgressEvent{JobID: jobID, Status: status, Step: 1, TotalSteps: 8, Delivery: "7.1"}
}

func TestRunnerHealthFollowsHeartbeats(t *testing.T) {
	t.Parallel()
	tr, clock := newTestTracker(t, 10*time.Second)
	tr.noteHeartbeat(heartbeat("gone"))
	clock.advance(90 * time.Second)
	tr.noteHeartbeat(heartbeat("quiet"))
	clock.advance(9 * time.Second)
	tr.noteHeartbeat(heartbeat("fresh"))
	clock.advance(2 * time.Second) // gone: 101 s, quiet: 11 s, fresh: 2 s
	got := tr.Runners()
	require.Len(t, got, 2, "a runner silent for ten timeouts is forgotten")
	require.Equal(t, "fresh", got[0].Runner)
	require.Equal(t, "healthy", got[0].Health)
	require.Equal(t, "quiet", got[1].Runner)
	require.Equal(t, "lost", got[1].Health)
	_, alive := tr.Heartbeat("quiet")
	require.False(t, alive)
	h, alive := tr.Heartbeat("fresh")
	require.True(t, alive)
	require.Equal(t, clock.now().Add(-2*time.Second), h.At, "liveness by receipt time")
}

// noteEvent keeps one job's progress as a heartbeat listing it would.
func noteEvent(tr *Tracker, e bus.ProgressEvent) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.noteProgress(e, tr.now())
}

func held(jobID string) bus.HeldJob {
	return bus.HeldJob{JobID: jobID, Delivery: "7.1", Step: 1, TotalSteps: 8}
}

func TestForgetDropsEndedJobs(t *testing.T) {
	t.Parallel()
	tr, _ := newTestTracker(t, time.Second)
	tr.noteHeartbeat(beatWith("r1", held("a"), held("b"), held("c")))
	tr.noteHeartbeat(beatWith("r1", held("a"), held("b"))) // c ended
	tr.Forget(map[string]bool{"a": true})
	_, okA := tr.Progress("a")
	_, okB := tr.Progress("b")
	_, okC := tr.Progress("c")
	require.True(t, okA)
	require.False(t, okB, "not running")
	require.False(t, okC, "its runner let it go")
	require.Zero(t, evictions(tr), "a job that ended is not counted as pushed out")
}

// evictions sums every eviction count.
func evictions(tr *Tracker) int64 {
	var n int64
	for _, e := range tr.Evictions() {
		n += e.Count
	}
	return n
}

// count is one eviction count.
func count(tr *Tracker, m, reason string) int64 {
	for _, e := range tr.Evictions() {
		if e.Map == m && e.Reason == reason {
			return e.Count
		}
	}
	panic("no count " + m + "/" + reason)
}

// Over a real NATS: heartbeats on their subjects reach the maps, with the
// progress of the jobs they list; one on another's subject is dropped;
// progress events are not followed (a heartbeat sent after one is heard
// without it); and Stop ends the subscriptions and the pruning loop
// (TestMain's goleak checks the loop).
func TestStartFollowsTheBus(t *testing.T) {
	t.Parallel()
	nc, _ := testenv.StartNATS(t).Connect(t)
	tr := New(nc, 10*time.Second, nil, zaptest.NewLogger(t))
	require.NoError(t, tr.Start(t.Context()))
	defer tr.Stop(t.Context())
	require.True(t, tr.pruner.Running())
	publish := func(subject string, v any) {
		data, err := json.Marshal(v)
		require.NoError(t, err)
		require.NoError(t, nc.Publish(subject, data))
	}
	publish(bus.HeartbeatSubject("other"), heartbeat("r1"))
	publish(bus.EventSubject("j2"), event("j2", "processing"))
	publish(bus.HeartbeatSubject("r1"), beatWith("r1", held("j1")))
	require.Eventually(t, func() bool {
		_, alive := tr.Heartbeat("r1")
		_, ok := tr.Progress("j1")
		return alive && ok
	}, 5*time.Second, 10*time.Millisecond, "heartbeat and its job's progress tracked")
	runners, progress := tr.Sizes()
	require.Equal(t, 1, runners, "the heartbeat on another runner's subject is not kept")
	require.Equal(t, 1, progress, "the event is not followed")
	tr.Stop(t.Context())
	require.False(t, tr.pruner.Running())
}
