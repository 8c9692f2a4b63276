package tracker

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"
)

// Three hours of a fleet, pass by pass: a runner that heartbeats every two
// seconds is never pruned and always alive; one that stopped is listed as
// lost, then pruned once silent for ten timeouts (within a pass), and
// counted.
func TestPruneNeverDropsAHeartbeatingRunner(t *testing.T) {
	t.Parallel()
	const timeout = 10 * time.Second
	tr, clock := newTestTracker(t, timeout)
	tr.noteHeartbeat(heartbeat("stopped"))
	start := clock.now()
	var prunedAt time.Duration
	for elapsed := time.Duration(0); elapsed < 3*time.Hour; elapsed += 2 * time.Second {
		clock.advance(2 * time.Second)
		tr.noteHeartbeat(heartbeat("live"))
		if elapsed%pruneEvery == 0 {
			if runners, _ := tr.prune(); runners > 0 {
				require.Zero(t, prunedAt, "pruned twice")
				prunedAt = clock.now().Sub(start)
			}
		}
		_, alive := tr.Heartbeat("live")
		require.True(t, alive, "the live runner at %s", elapsed)
		if prunedAt == 0 && clock.now().Sub(start) <= tr.runnerRetention() {
			require.Len(t, tr.Runners(), 2, "the stopped runner is listed until its retention ends")
		}
	}
	require.Greater(t, prunedAt, runnerRetentionTimeouts*timeout)
	require.LessOrEqual(t, prunedAt, runnerRetentionTimeouts*timeout+pruneEvery)
	require.Equal(t, int64(1), count(tr, "runners", "expired"))
	require.Len(t, tr.Runners(), 1)
	runners, _ := tr.Sizes()
	require.Equal(t, 1, runners)
}

// A job whose runner reports within the silence rule keeps its progress
// however long it runs; a job whose events stopped keeps its last one for
// the whole retention, which is well past the watchdog's rules, and is
// pruned after it.
func TestPruneKeepsTheProgressOfJobsThatReport(t *testing.T) {
	t.Parallel()
	const retention = 40 * time.Minute
	tr, clock := newTestTracker(t, 10*time.Second, WithProgressRetention(retention))
	noteEvent(tr, event("stopped", "processing"))
	start := clock.now()
	for elapsed := time.Duration(0); elapsed < 3*time.Hour; elapsed += time.Minute {
		clock.advance(time.Minute)
		if elapsed%(4*time.Minute) == 0 { // inside the default max_silent_time of 5 m
			steady := event("steady", "processing")
			steady.Step = int(elapsed / time.Minute) // its step moved
			noteEvent(tr, steady)
		}
		tr.prune()
		p, ok := tr.Progress("steady")
		require.True(t, ok, "steady at %s", elapsed)
		require.LessOrEqual(t, clock.now().Sub(p.ReceivedAt), 4*time.Minute)
		_, kept := tr.Progress("stopped")
		require.Equal(t, clock.now().Sub(start) <= retention, kept, "stopped at %s", clock.now().Sub(start))
	}
	require.Equal(t, int64(1), count(tr, "progress", "expired"))
	require.Equal(t, int64(0), count(tr, "progress", "evicted"))
}

func TestDefaultProgressRetentionOutlastsTheWatchdog(t *testing.T) {
	t.Parallel()
	tr, clock := newTestTracker(t, 10*time.Second, WithProgressRetention(-time.Second))
	noteEvent(tr, event("j", "processing"))
	// The supervisor's defaults: max_stalled_time 15 m, max_silent_time
	// 5 m. Any delivery older than max_stalled_time is recovered whatever
	// its progress, so its events are not needed past it.
	clock.advance(4 * 15 * time.Minute)
	tr.prune()
	_, ok := tr.Progress("j")
	require.True(t, ok, "kept for four times the default max_stalled_time")
	clock.advance(time.Second)
	tr.prune()
	_, ok = tr.Progress("j")
	require.False(t, ok)
}

// At the cap the job heard from least recently is pushed out, and counted;
// a job's own events keep it from being the one.
func TestProgressCapPushesOutTheLeastRecent(t *testing.T) {
	t.Parallel()
	tr, clock := newTestTracker(t, time.Second)
	tr.limits.maxProgress = 3
	for _, j := range []string{"j1", "j2", "j3"} {
		noteEvent(tr, event(j, "processing"))
		clock.advance(time.Second)
	}
	noteEvent(tr, event("j1", "processing")) // j1 reports again: j2 is the oldest now
	clock.advance(time.Second)
	noteEvent(tr, event("j4", "processing"))
	clock.advance(time.Second)
	noteEvent(tr, event("j5", "processing"))
	for j, want := range map[string]bool{"j1": true, "j2": false, "j3": false, "j4": true, "j5": true} {
		_, ok := tr.Progress(j)
		require.Equal(t, want, ok, j)
	}
	require.Equal(t, int64(2), count(tr, "progress", "evicted"))
	_, progress := tr.Sizes()
	require.Equal(t, 3, progress)
}

// At the cap a runner that is alive is never pushed out: a new one is
// refused while every runner kept is alive, and takes the place of the
// runner lost longest once there is one.
func TestRunnerCapNeverPushesOutALiveRunner(t *testing.T) {
	t.Parallel()
	const timeout = 10 * time.Second
	tr, clock := newTestTracker(t, timeout)
	tr.limits.maxRunners = 2
	tr.noteHeartbeat(heartbeat("r1"))
	tr.noteHeartbeat(heartbeat("r2"))
	for i := range 100 { // a flood of made-up runners
		tr.noteHeartbeat(heartbeat(fmt.Sprintf("forged-%d", i)))
	}
	for _, r := range []string{"r1", "r2"} {
		_, alive := tr.Heartbeat(r)
		require.True(t, alive, r)
	}
	require.Equal(t, int64(100), count(tr, "runners", "refused"))

	clock.advance(timeout / 2)
	tr.noteHeartbeat(heartbeat("r2"))
	clock.advance(timeout/2 + time.Second) // r1 is lost, r2 alive
	tr.noteHeartbeat(heartbeat("r3"))
	got := tr.Runners()
	require.Len(t, got, 2, "the lost runner made room")
	require.Equal(t, []string{"r2", "r3"}, []string{got[0].Runner, got[1].Runner})
	require.Equal(t, []string{"healthy", "healthy"}, []string{got[0].Health, got[1].Health})
	require.Equal(t, int64(1), count(tr, "runners", "evicted"))
}

// The tracker's own ticker prunes while it runs and stops with it: in a
// synctest bubble the ticker's minutes pass at once, and the bubble fails
// the test if the loop outlives Stop.
func TestPrunerRunsOnItsTickerUntilStopped(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		tr := New(nil, 10*time.Second, nil, zaptest.NewLogger(t), WithProgressRetention(30*time.Minute))
		tr.noteHeartbeat(heartbeat("stopped"))
		noteEvent(tr, event("j", "processing"))
		tr.pruner.Start(t.Context())
		passInBubble(tr.runnerRetention() + pruneEvery)
		runners, progress := tr.Sizes()
		require.Equal(t, 0, runners, "the runner was pruned by the ticker")
		require.Equal(t, 1, progress, "the progress is not yet old enough")
		passInBubble(30 * time.Minute)
		_, progress = tr.Sizes()
		require.Equal(t, 0, progress)
		require.Equal(t, int64(2), evictions(tr))
		tr.Stop(t.Context())
		require.False(t, tr.pruner.Running())
	})
}

// passInBubble lets d pass on a synctest bubble's clock, firing the
// tickers due meanwhile, and returns once every goroutine of the bubble is
// blocked again.
func passInBubble(d time.Duration) {
	<-time.After(d)
	synctest.Wait()
}
