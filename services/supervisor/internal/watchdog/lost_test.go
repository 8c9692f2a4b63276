package watchdog

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/services/supervisor/internal/recoveries"
	"cyberimage/services/supervisor/internal/tracker"
	"cyberimage/shared/bus"
)

type fakeLiveness map[string]bool // runner → gone

func (f fakeLiveness) Gone(runner, _ string, _ time.Duration) (string, bool) {
	if f[runner] {
		return "no heartbeat from runner " + runner, true
	}
	return "", false
}

func (f fakeLiveness) Orphans(time.Duration) []tracker.Orphan { return nil }

// orphaned is a Liveness whose gone runners also left deliveries behind.
type orphaned struct {
	fakeLiveness
	left []tracker.Orphan
}

func (o *orphaned) Orphans(time.Duration) []tracker.Orphan {
	out := o.left
	o.left = nil
	return out
}

// TestLostPassHandsBackPrefetchedJobs: the deliveries a gone runner held
// without a claim are handed back, each once, and recorded as runner_lost.
func TestLostPassHandsBackPrefetchedJobs(t *testing.T) {
	f := newFixture(t)
	live := &orphaned{fakeLiveness: fakeLiveness{"dead": true}, left: []tracker.Orphan{
		{Runner: "dead", Job: bus.HeldJob{JobID: "P1", Delivery: "9.1", AckSubject: "$JS.ACK.x"}},
		{Runner: "dead", Job: bus.HeldJob{JobID: "P2", Delivery: "10.1", AckSubject: "$JS.ACK.y"}},
	}}
	f.w.p.Liveness, f.w.p.LostAfter = live, 6*time.Second
	f.actions.refuse["P2"] = true // claimed meanwhile: nothing to hand back
	require.Equal(t, 1, f.w.LostPass(context.Background()))
	require.Equal(t, []string{"P1:handback"}, f.actions.recovered)
	require.Zero(t, f.w.LostPass(context.Background()), "each orphan once")
	require.Equal(t, int64(1), f.log.Counts()[recoveries.KindRunnerLost])
}

// TestLostPassTakesOnlyALostRunnersWork: the deliveries of a gone runner
// are recovered as runner_lost, however young; live runners' are left;
// no stall is counted against the lost runner; nothing is done with the
// rule off.
func TestLostPassTakesOnlyALostRunnersWork(t *testing.T) {
	f := newFixture(t)
	f.running("J1", "dead", time.Second, 1)
	f.running("J2", "alive", time.Hour, 1) // stalled, but that is Pass's business
	f.running("J3", "dead", 10*time.Second, 2)
	require.Zero(t, f.w.LostPass(context.Background()), "off without Liveness")

	f.w.p.Liveness, f.w.p.LostAfter = fakeLiveness{"dead": true}, 6*time.Second
	require.Equal(t, 2, f.w.LostPass(context.Background()))
	require.Equal(t, []string{"J1:" + recoveries.KindRunnerLost, "J3:" + recoveries.KindRunnerLost}, f.actions.recovered)
	require.Equal(t, int64(2), f.log.Counts()[recoveries.KindRunnerLost])
	h, err := f.history.Get(context.Background(), "dead")
	require.NoError(t, err)
	require.Empty(t, h.Stalls, "a lost runner is not a stalling one")

	f.actions.recovered = nil
	f.actions.refuse["J1"] = true // ended meanwhile
	f.w.p.LostAfter = 0
	require.Zero(t, f.w.LostPass(context.Background()), "off with LostAfter 0")
}

// TestLostPassInterval keeps the pass between a quarter second and two.
func TestLostPassInterval(t *testing.T) {
	require.Equal(t, 250*time.Millisecond, LostPassInterval(0))
	require.Equal(t, 1500*time.Millisecond, LostPassInterval(6*time.Second))
	require.Equal(t, 2*time.Second, LostPassInterval(time.Minute))
}
