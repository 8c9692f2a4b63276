package watchdog

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"cyberimage/services/supervisor/internal/acks"
	"cyberimage/services/supervisor/internal/index"
	"cyberimage/services/supervisor/internal/leaderpass"
	"cyberimage/services/supervisor/internal/leaderpass/leaderpasstest"
	"cyberimage/services/supervisor/internal/recoveries"
	"cyberimage/services/supervisor/internal/tracker"
	"cyberimage/shared/bus"
	"cyberimage/shared/job"
)

type fakeProgress map[string]tracker.Progress

func (f fakeProgress) Progress(id string) (tracker.Progress, bool) { p, ok := f[id]; return p, ok }

type fakeActions struct {
	recovered []string
	reloads   []string
	orders    []string
	refuse    map[string]bool
}

func (f *fakeActions) Recover(_ context.Context, e index.Entry, kind, _ string) (bool, error) {
	if f.refuse[e.JobID] {
		return false, nil
	}
	f.recovered = append(f.recovered, e.JobID+":"+kind)
	return true, nil
}

func (f *fakeActions) HandBack(_ context.Context, _ string, held bus.HeldJob) (bool, error) {
	if f.refuse[held.JobID] {
		return false, nil
	}
	f.recovered = append(f.recovered, held.JobID+":handback")
	return true, nil
}

func (f *fakeActions) Reload(_ context.Context, runner, id, _ string) error {
	f.reloads = append(f.reloads, runner)
	f.orders = append(f.orders, id)
	return nil
}

type fakeRunners map[string]bus.Heartbeat

func (f fakeRunners) Heartbeat(runner string) (bus.Heartbeat, bool) { h, ok := f[runner]; return h, ok }

type fixture struct {
	now      time.Time
	jobs     leaderpasstest.Jobs
	acks     leaderpasstest.Acks
	progress fakeProgress
	actions  *fakeActions
	runners  fakeRunners
	history  *MemHistories
	log      *recoveries.Log
	w        *Watchdog
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{now: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC), acks: leaderpasstest.Acks{}, progress: fakeProgress{},
		actions: &fakeActions{refuse: map[string]bool{}}, log: recoveries.NewLog(10),
		runners: fakeRunners{"r1": {Runner: "r1"}}, history: &MemHistories{}}
	f.w = f.newWatchdog(t)
	return f
}

// newWatchdog makes a watchdog on the fixture's fakes: a second one stands
// for a supervisor that takes over the lead.
func (f *fixture) newWatchdog(t *testing.T) *Watchdog {
	return New(Params{
		Jobs: &f.jobs, Acks: f.acks, Progress: f.progress, Actions: f.actions, Log: f.log,
		Histories: f.history, Runners: f.runners,
		MaxStalled: 15 * time.Minute, MaxSilent: 2 * time.Minute,
		RecoveryCooldown: 5 * time.Minute, AckWait: time.Minute,
		Deps: leaderpass.Deps{Now: func() time.Time { return f.now }, Logger: zaptest.NewLogger(t)},
	})
}

// runnerSkew is how far the fixture's runners' clocks are off: every time a
// runner writes is wrong by this much, and no verdict may depend on it.
const runnerSkew = -10 * time.Minute

func (f *fixture) running(id, runner string, startedAgo time.Duration, delivered int) index.Entry {
	e := index.Entry{JobID: id, Status: job.StatusProcessing, Runner: runner, Attempts: delivered,
		RunStartedAt: f.now.Add(-startedAgo),
		Delivery: &job.Delivery{StreamSeq: uint64(len(f.jobs) + 1), Delivered: delivered, Runner: runner,
			StartedAt: f.now.Add(-startedAgo + runnerSkew)}}
	f.jobs = append(f.jobs, e)
	return e
}

func (f *fixture) wpi(e index.Entry, ago time.Duration) {
	f.acks[e.Delivery.Token()] = acks.Seen{Kind: acks.InProgress, At: f.now.Add(-ago)}
}

func (f *fixture) step(e index.Entry, ago time.Duration) {
	f.progress[e.JobID] = tracker.Progress{ProgressEvent: bus.ProgressEvent{JobID: e.JobID, Delivery: e.Delivery.Token(),
		Step: 3, At: f.now.Add(-ago + runnerSkew)}, ReceivedAt: f.now.Add(-ago)}
}

func TestStalledMeasuredFromRunStart(t *testing.T) {
	f := newFixture(t)
	old := f.running("old", "r1", 16*time.Minute, 1)
	f.step(old, time.Second) // progress is recent, but the delivery is too old
	f.wpi(old, time.Second)
	young := f.running("young", "r1", 14*time.Minute, 1)
	f.step(young, time.Second)
	f.wpi(young, time.Second)
	require.Equal(t, 1, f.w.runOnce(context.Background()))
	require.Equal(t, []string{"old:stalled"}, f.actions.recovered)
	rec := f.log.Recent()[0]
	require.Equal(t, "old", rec.JobID)
	require.InDelta(t, 16*60, rec.ElapsedSeconds, 1)

	// Time passes: the young one crosses the limit at the next check.
	f.now = f.now.Add(61 * time.Second)
	f.jobs = f.jobs[1:]
	require.Equal(t, 1, f.w.runOnce(context.Background()))
	require.Equal(t, "young:stalled", f.actions.recovered[1])
}

func TestSilentNeedsFlowingAcks(t *testing.T) {
	f := newFixture(t)
	hung := f.running("hung", "r1", 5*time.Minute, 1)
	f.step(hung, 3*time.Minute)
	f.wpi(hung, 10*time.Second) // heartbeat without a pulse
	dead := f.running("dead", "r2", 5*time.Minute, 1)
	f.step(dead, 3*time.Minute)
	f.wpi(dead, 3*time.Minute) // acks stopped: JetStream's AckWait handles it
	busy := f.running("busy", "r3", 5*time.Minute, 1)
	f.step(busy, 10*time.Second)
	f.wpi(busy, 10*time.Second)
	stale := f.running("stale-progress", "r4", 5*time.Minute, 2)
	f.progress["stale-progress"] = tracker.Progress{ProgressEvent: bus.ProgressEvent{JobID: "stale-progress", Delivery: "99.1"},
		ReceivedAt: f.now} // an older delivery's event
	f.wpi(stale, time.Second)
	require.Equal(t, 2, f.w.runOnce(context.Background()))
	require.ElementsMatch(t, []string{"hung:silent", "stale-progress:silent"}, f.actions.recovered)
}

func TestNothingDoneWhenRecordMovedOn(t *testing.T) {
	f := newFixture(t)
	f.running("done-meanwhile", "r1", 20*time.Minute, 1)
	f.actions.refuse["done-meanwhile"] = true
	require.Equal(t, 0, f.w.runOnce(context.Background()))
	require.Empty(t, f.log.Recent())
}

func TestEmergencyAtMostOncePerCooldown(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.running("a", "r1", 16*time.Minute, 1)
	require.Equal(t, 1, f.w.runOnce(ctx))
	require.Empty(t, f.actions.reloads, "one stall is not an emergency")
	require.False(t, f.w.Unhealthy("r1"))

	f.now = f.now.Add(time.Minute)
	f.jobs = nil
	f.running("b", "r1", 16*time.Minute, 1)
	require.Equal(t, 1, f.w.runOnce(ctx))
	require.Equal(t, []string{"r1"}, f.actions.reloads, "a second stall within the cooldown is")
	require.True(t, f.w.Unhealthy("r1"))

	f.now = f.now.Add(time.Minute)
	f.jobs = nil
	f.running("c", "r1", 16*time.Minute, 1)
	f.w.runOnce(ctx)
	require.Len(t, distinct(f.actions.orders), 1, "no second reload within the cooldown (the first is repeated until done)")

	f.now = f.now.Add(5 * time.Minute)
	require.True(t, f.w.Unhealthy("r1"), "unhealthy until the reload is reported done, however long")
	f.runners["r1"] = bus.Heartbeat{Runner: "r1", LastReload: f.actions.orders[0]}
	require.False(t, f.w.Unhealthy("r1"), "healthy once its heartbeat shows the reload")
	f.jobs = nil
	f.running("d", "r1", 16*time.Minute, 1)
	f.running("e", "r1", 16*time.Minute, 1)
	f.w.runOnce(ctx)
	require.Len(t, distinct(f.actions.orders), 2, "several stalls at once after the cooldown: another reload")
	kinds := map[string]int{}
	for _, r := range f.log.Recent() {
		kinds[r.Kind]++
	}
	require.Equal(t, 2, kinds[recoveries.KindEmergency])
}

func distinct(ids []string) map[string]bool {
	out := map[string]bool{}
	for _, id := range ids {
		out[id] = true
	}
	return out
}

func TestNakDelayBacksOff(t *testing.T) {
	for delivered, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 10: time.Minute} {
		d := NakDelay(time.Second, delivered)
		require.GreaterOrEqual(t, d, want*8/10)
		require.LessOrEqual(t, d, want*12/10)
	}
}

// TestWaitingIsNotProcessing: a claimed delivery whose run has not started
// (no server time for it) is never judged, however old its delivery is by
// the runner's clock.
func TestWaitingIsNotProcessing(t *testing.T) {
	f := newFixture(t)
	e := f.running("waiting", "r1", time.Hour, 1)
	f.jobs[0].RunStartedAt = time.Time{}
	f.wpi(e, time.Second)
	require.Zero(t, f.w.runOnce(context.Background()))
}

// TestRunnerClockIsIgnored: runners whose clocks are ten minutes fast or
// slow get the same verdicts as runners with the right time.
func TestRunnerClockIsIgnored(t *testing.T) {
	for _, skew := range []time.Duration{-10 * time.Minute, 10 * time.Minute} {
		f := newFixture(t)
		e := f.running("young", "r1", time.Minute, 1)
		f.jobs[0].Delivery.StartedAt = f.now.Add(-time.Minute + skew)
		f.progress[e.JobID] = tracker.Progress{ProgressEvent: bus.ProgressEvent{JobID: e.JobID, Delivery: e.Delivery.Token(),
			At: f.now.Add(skew)}, ReceivedAt: f.now.Add(-time.Second)}
		f.wpi(e, time.Second)
		require.Zero(t, f.w.runOnce(context.Background()), "skew %s", skew)
	}
}

// TestLeaderChangeKeepsStallHistory: a stall judged by one leader counts
// when the next leader judges the runner's second stall.
func TestLeaderChangeKeepsStallHistory(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.running("a", "r1", 16*time.Minute, 1)
	require.Equal(t, 1, f.w.runOnce(ctx))
	require.Empty(t, f.actions.reloads)

	successor := f.newWatchdog(t)
	f.now = f.now.Add(time.Minute)
	f.jobs = nil
	f.running("b", "r1", 16*time.Minute, 1)
	require.Equal(t, 1, successor.runOnce(ctx))
	require.Equal(t, []string{"r1"}, f.actions.reloads, "the second stall, under a new leader, is an emergency")
	require.True(t, f.w.Unhealthy("r1"), "every replica sees the quarantine")
}

// TestReloadOrderRepeatedUntilDone: an order lost on the way is sent again
// at each check until the runner reports it done; a runner reloading now
// or gone is not pestered.
func TestReloadOrderRepeatedUntilDone(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.running("a", "r1", 16*time.Minute, 1)
	f.running("b", "r1", 16*time.Minute, 1)
	require.Equal(t, 2, f.w.runOnce(ctx))
	require.Len(t, f.actions.orders, 1)
	order := f.actions.orders[0]

	f.jobs = nil
	f.w.runOnce(ctx)
	require.Equal(t, []string{order, order}, f.actions.orders, "repeated while not done")
	f.runners["r1"] = bus.Heartbeat{Runner: "r1", Quarantined: true}
	f.w.runOnce(ctx)
	require.Len(t, f.actions.orders, 2, "not repeated while the runner reloads")
	f.runners["r1"] = bus.Heartbeat{Runner: "r1", LastReload: order}
	f.w.runOnce(ctx)
	require.Len(t, f.actions.orders, 2, "not repeated once done")
	delete(f.runners, "r1")
	f.runners["r1x"] = bus.Heartbeat{}
	f.w.runOnce(ctx)
	require.Len(t, f.actions.orders, 2)
}

// fakePulses: runners that report steps in their heartbeats, and when each
// delivery last advanced.
type fakePulses struct {
	reporting map[string]bool      // runner → its heartbeats carry steps
	advanced  map[string]time.Time // job id → when its run last moved
}

func (f fakePulses) Pulse(jobID, _, runner string) (time.Time, bool) {
	if !f.reporting[runner] {
		return time.Time{}, false
	}
	return f.advanced[jobID], true
}

// TestSilenceIsJudgedByTheHoldersHeartbeats: for a runner whose heartbeats
// report steps, a progress event (which any runner may publish, for any
// job) does not keep a silent delivery alive; a step its heartbeats report
// does; a runner that reports no steps is still judged by its events.
func TestSilenceIsJudgedByTheHoldersHeartbeats(t *testing.T) {
	f := newFixture(t)
	pulses := fakePulses{reporting: map[string]bool{"r1": true, "r2": true}, advanced: map[string]time.Time{}}
	f.w.p.Pulses = pulses
	forged := f.running("forged", "r1", 5*time.Minute, 1)
	f.step(forged, 10*time.Second) // an event, forged by another runner
	f.wpi(forged, 10*time.Second)
	moving := f.running("moving", "r2", 5*time.Minute, 1)
	pulses.advanced["moving"] = f.now.Add(-20 * time.Second)
	f.wpi(moving, 10*time.Second)
	old := f.running("old-runner", "r3", 5*time.Minute, 1)
	f.step(old, 10*time.Second)
	f.wpi(old, 10*time.Second)
	require.Equal(t, 1, f.w.runOnce(context.Background()))
	require.Equal(t, []string{"forged:silent"}, f.actions.recovered)
}
