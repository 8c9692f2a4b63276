package acks

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/bus"
)

func TestDeliveryToken(t *testing.T) {
	t.Parallel()
	tok, err := DeliveryToken("$JS.ACK.CYBERIMAGE_JOBS.gpu-runners.3.41.77.1764380000000000000.5")
	require.NoError(t, err)
	require.Equal(t, "41.3", tok)
	tok, err = DeliveryToken("$JS.ACK.hub.ACCHASH.CYBERIMAGE_JOBS.gpu-runners.2.9.12.1764380000000000000.0.xyz")
	require.NoError(t, err)
	require.Equal(t, "9.2", tok)
	for _, bad := range []string{"$JS.ACK.X.Y.a.1.2.3.4", "foo.bar", "$JS.ACK.X.Y.1.b.2.3.4"} {
		_, err := DeliveryToken(bad)
		require.Error(t, err, bad)
	}
}

func TestObserveAndPrune(t *testing.T) {
	t.Parallel()
	now := time.Unix(100, 0)
	tr := New(nil, nil)
	tr.now = func() time.Time { return now }
	tr.Observe("1.1", bus.AckKindOf([]byte("+WPI")))
	now = now.Add(10 * time.Second)
	tr.Observe("2.1", bus.AckKindOf([]byte(`-NAK {"delay":1000}`)))
	s, ok := tr.Last("1.1")
	require.True(t, ok)
	require.Equal(t, InProgress, s.Kind)
	s, _ = tr.Last("2.1")
	require.Equal(t, Nak, s.Kind)
	require.Equal(t, Ack, bus.AckKindOf(nil))
	tr.Prune(5 * time.Second)
	_, ok = tr.Last("1.1")
	require.False(t, ok)
	_, ok = tr.Last("2.1")
	require.True(t, ok)
}

func TestKeptAlive(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	tr := New(nil, nil)
	tr.now = func() time.Time { return now.Add(-time.Second) }
	tr.Observe("alive", InProgress)
	tr.Observe("naked", Nak)
	tr.now = func() time.Time { return now.Add(-2 * time.Minute) }
	tr.Observe("stopped", InProgress)
	require.True(t, KeptAlive(tr, "alive", now, time.Minute))
	require.False(t, KeptAlive(tr, "stopped", now, time.Minute), "acks stopped")
	require.False(t, KeptAlive(tr, "naked", now, time.Minute), "last was a NAK")
	require.False(t, KeptAlive(tr, "unknown", now, time.Minute), "never seen")
}

func TestParseToken(t *testing.T) {
	seq, delivered, err := ParseToken("42.3")
	require.NoError(t, err)
	require.Equal(t, uint64(42), seq)
	require.Equal(t, 3, delivered)
	for _, bad := range []string{"", "42", "x.1", "42.x", "0.1", "42.0", "1.2.3"} {
		_, _, err := ParseToken(bad)
		require.Error(t, err, bad)
	}
}
