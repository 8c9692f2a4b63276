package worker

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestGateHoldsWhileAnyReasonStands: a quarantine's end does not undo a
// drain, nor an undrain a quarantine; holding or releasing twice changes
// nothing, and says so.
func TestGateHoldsWhileAnyReasonStands(t *testing.T) {
	g := newGate()
	require.False(t, g.held())
	open := g.opened()
	require.True(t, g.hold(holdDrain))
	require.False(t, g.hold(holdDrain), "drained twice")
	require.True(t, g.held())
	require.True(t, g.hold(holdQuarantine))
	require.True(t, g.release(holdQuarantine))
	require.False(t, g.release(holdQuarantine), "released twice")
	require.True(t, g.held(), "the drain still holds")
	require.True(t, g.heldFor(holdDrain))
	require.False(t, g.heldFor(holdQuarantine))
	waiting := g.opened()
	select {
	case <-waiting:
		t.Fatal("opened while held")
	default:
	}
	require.True(t, g.release(holdDrain))
	require.False(t, g.held())
	<-waiting // closed once the last reason went
	<-open
}

// TestWorkerDrainIsNotQuarantine: the heartbeat reports a drain and a
// quarantine apart.
func TestWorkerDrainIsNotQuarantine(t *testing.T) {
	w := &Worker{gate: newGate()}
	require.True(t, w.Drain())
	require.False(t, w.Drain())
	require.True(t, w.Draining())
	require.False(t, w.Held(), "a drained runner is not quarantined")
	w.Hold()
	w.Resume()
	require.True(t, w.Draining(), "a reload's end keeps the drain")
	require.True(t, w.Undrain())
	require.False(t, w.Undrain())
	require.False(t, w.Draining())
	require.False(t, w.gate.held())
}
