package watchdog

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/bus"
)

// TestReloadOrderVoidForANewIncarnation: a reload is addressed to the
// process that stalled; once the runner comes back as another incarnation
// (restarted by its process manager, models loaded afresh) it is healthy
// at its first heartbeat, and the order is forgotten rather than repeated.
func TestReloadOrderVoidForANewIncarnation(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.runners["r1"] = bus.Heartbeat{Runner: "r1", Boot: "b1"}
	f.running("a", "r1", 16*time.Minute, 1).Delivery.Boot = "b1"
	f.running("b", "r1", 16*time.Minute, 1)
	require.Equal(t, 2, f.w.runOnce(ctx))
	require.Len(t, f.actions.orders, 1)
	h, err := f.history.Get(ctx, "r1")
	require.NoError(t, err)
	require.Equal(t, "b1", h.ReloadBoot, "addressed to the process that stalled")
	require.True(t, f.w.Unhealthy("r1"))

	f.runners["r1"] = bus.Heartbeat{Runner: "r1", Boot: "b2"}
	require.False(t, f.w.Unhealthy("r1"), "healthy at the new incarnation's first heartbeat")
	f.jobs = nil
	f.w.runOnce(ctx)
	require.Len(t, f.actions.orders, 1, "not repeated to the new process")
	h, err = f.history.Get(ctx, "r1")
	require.NoError(t, err)
	require.Empty(t, h.ReloadOrder, "forgotten")
	require.Len(t, h.Stalls, 2, "the stalls are still counted")

	// An order kept before boots were recorded is never void.
	_, err = f.history.Update(ctx, "r1", func(h *History) { h.ReloadOrder, h.ReloadBoot = "old", "" })
	require.NoError(t, err)
	require.True(t, f.w.Unhealthy("r1"))
}

// TestOperatorReloadIsAddressedToTheLiveProcess: an operator's reload
// names the runner process heard from now.
func TestOperatorReloadIsAddressedToTheLiveProcess(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.runners["r1"] = bus.Heartbeat{Runner: "r1", Boot: "b7"}
	reload := OperatorReload(f.history, f.runners, &Recoverer{NC: nil, Now: func() time.Time { return f.now }})
	_, err := reload(ctx, "r1")
	require.Error(t, err, "no connection to send it on: kept all the same, and repeated by the leader")
	h, err := f.history.Get(ctx, "r1")
	require.NoError(t, err)
	require.NotEmpty(t, h.ReloadOrder)
	require.Equal(t, "b7", h.ReloadBoot)
}
