package lease

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"cyberimage/shared/testenv"
)

// changes records what onChange heard.
type changes struct {
	mu  sync.Mutex
	got []bool
}

func (c *changes) note(leading bool) { c.mu.Lock(); c.got = append(c.got, leading); c.mu.Unlock() }

// waitForGain waits until the replica heard its first gain of the lead.
// Start's first campaign may not win on a loaded machine (its write has
// TTL/3 to land); the replica then wins on a later one, from its loop, and
// hears it there.
func (c *changes) waitForGain(t *testing.T) {
	t.Helper()
	require.Eventually(t, func() bool { return len(c.list()) == 1 }, 3*time.Second, 10*time.Millisecond, "the replica leads")
}

func (c *changes) list() []bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]bool(nil), c.got...)
}

// ttl is the test bucket's: short, so a lease given up or lost moves fast.
const ttl = 900 * time.Millisecond

func leaseBucket(t *testing.T) jetstream.KeyValue {
	_, js := testenv.StartNATS(t).Connect(t)
	kv, err := js.CreateKeyValue(context.Background(), jetstream.KeyValueConfig{Bucket: "test_leases", TTL: ttl})
	require.NoError(t, err)
	return kv
}

// TestOneLeaderAndHandover: of two replicas exactly one leads; when it
// stops it gives the lease up, hears it lost the lead before the other
// gains it, and the other takes over within a campaign period.
func TestOneLeaderAndHandover(t *testing.T) {
	kv := leaseBucket(t)
	var ca, cb changes
	a := New(kv, "a", ttl, zaptest.NewLogger(t), ca.note)
	b := New(kv, "b", ttl, zaptest.NewLogger(t), cb.note)
	a.Start(t.Context())
	ca.waitForGain(t) // only then does b join
	b.Start(t.Context())
	defer b.Stop(t.Context())
	require.True(t, a.IsLeader())
	require.False(t, b.IsLeader())
	require.Equal(t, "a", b.Holder())
	require.Equal(t, []bool{true}, ca.list())
	require.Empty(t, cb.list())

	a.Stop(t.Context())
	a.Stop(t.Context()) // a second Stop does nothing
	require.Equal(t, []bool{true, false}, ca.list())
	require.False(t, a.IsLeader())
	require.Eventually(t, b.IsLeader, 2*time.Second, 10*time.Millisecond, "b takes over once a gave up")
	require.Equal(t, []bool{true}, cb.list())
}

// TestLeadLostWhenRenewalFails: a leader whose lease was taken (it expired
// while it could not renew) notices at its next renewal and steps down.
func TestLeadLostWhenRenewalFails(t *testing.T) {
	kv := leaseBucket(t)
	var c changes
	l := New(kv, "a", ttl, zaptest.NewLogger(t), c.note)
	l.Start(t.Context())
	defer l.Stop(t.Context())
	c.waitForGain(t)
	require.True(t, l.IsLeader())
	// Someone else's write replaces the lease under the leader.
	_, err := kv.Put(context.Background(), key, []byte("intruder"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return !l.IsLeader() }, 2*time.Second, 10*time.Millisecond)
	require.Equal(t, []bool{true, false}, c.list()[:2])
}
