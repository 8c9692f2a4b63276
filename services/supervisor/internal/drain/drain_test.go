package drain

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"cyberimage/services/supervisor/internal/leaderpass"
	"cyberimage/services/supervisor/internal/tracker"
	"cyberimage/shared/bus"
	"cyberimage/shared/testenv"
)

func stateBucket(t *testing.T) jetstream.KeyValue {
	_, js := testenv.StartNATS(t).Connect(t)
	kv, err := js.CreateKeyValue(context.Background(), jetstream.KeyValueConfig{Bucket: bus.BucketSupervisor})
	require.NoError(t, err)
	return kv
}

// orders records what was published, by runner.
type orders struct {
	mu   sync.Mutex
	sent []string // runner:action
}

func (o *orders) Publish(subject string, data []byte) error {
	c, err := bus.DecodeControl(data)
	if err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sent = append(o.sent, subject[len(bus.ControlSubject("")):]+":"+c.Action)
	return nil
}

func (o *orders) take() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := o.sent
	o.sent = nil
	return out
}

type fleet []tracker.Runner

func (f fleet) Runners() []tracker.Runner { return f }

func runner(name, health string, draining bool) tracker.Runner {
	return tracker.Runner{Heartbeat: bus.Heartbeat{Runner: name, Boot: "b-" + name, Draining: draining}, Health: health}
}

// TestSetKeepsDrainedRunners: the set is KV's, so a second reader (another
// replica, the next leader) sees every change; names KV keys could not
// hold are fine; draining twice keeps the first time.
func TestSetKeepsDrainedRunners(t *testing.T) {
	kv := stateBucket(t)
	ctx := context.Background()
	a, b := Set{KV: kv}, Set{KV: kv}
	first := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	require.NoError(t, a.Add(ctx, "gpu:host 1", first))
	require.NoError(t, a.Add(ctx, "r2", first))
	require.NoError(t, b.Add(ctx, "r2", first.Add(time.Hour)))
	got, err := b.List(ctx)
	require.NoError(t, err)
	require.Equal(t, map[string]Entry{"gpu:host 1": {At: first}, "r2": {At: first}}, got)
	require.NoError(t, b.Remove(ctx, "gpu:host 1"))
	require.NoError(t, b.Remove(ctx, "never-drained"))
	got, err = a.List(ctx)
	require.NoError(t, err)
	require.Equal(t, map[string]Entry{"r2": {At: first}}, got)
}

// TestConcurrentChangesAreAllKept: replicas changing the set at once lose
// none of each other's changes.
func TestConcurrentChangesAreAllKept(t *testing.T) {
	kv := stateBucket(t)
	ctx := context.Background()
	testenv.Race(5, func(i int) {
		require.NoError(t, Set{KV: kv}.Add(ctx, string(rune('a'+i)), time.Now()))
	})
	got, err := Set{KV: kv}.List(ctx)
	require.NoError(t, err)
	require.Len(t, got, 5)
}

// TestOrdersFollowTheSet: a change orders the runner at once; the pass
// repeats an order to every live runner whose heartbeat disagrees (a lost
// order, a drained runner restarted) and to no other.
func TestOrdersFollowTheSet(t *testing.T) {
	kv := stateBucket(t)
	ctx := context.Background()
	sent := &orders{}
	runners := fleet{runner("r1", "healthy", false), runner("r2", "healthy", false), runner("gone", "lost", false)}
	d := New(Params{Set: Set{KV: kv}, Runners: &runners, NC: sent, Deps: leaderpass.Deps{Logger: zaptest.NewLogger(t)}})
	require.NoError(t, d.Drain(ctx, "r1"))
	require.NoError(t, d.Drain(ctx, "gone"))
	require.Equal(t, []string{"r1:drain", "gone:drain"}, sent.take())

	require.Equal(t, 1, d.Pass(ctx), "r1's heartbeat does not show it yet; the lost runner is not ordered")
	require.Equal(t, []string{"r1:drain"}, sent.take())
	runners[0] = runner("r1", "healthy", true)
	require.Zero(t, d.Pass(ctx), "the heartbeat agrees")
	require.Empty(t, sent.take())

	// Restarted by its process manager: a new incarnation that knows
	// nothing of the drain is ordered again.
	runners[0] = runner("r1", "healthy", false)
	require.Equal(t, 1, d.Pass(ctx))
	require.Equal(t, []string{"r1:drain"}, sent.take())

	runners[0] = runner("r1", "healthy", true)
	require.NoError(t, d.Undrain(ctx, "r1"))
	require.Equal(t, []string{"r1:undrain"}, sent.take())
	require.Equal(t, 1, d.Pass(ctx), "still draining by its heartbeat")
	require.Equal(t, []string{"r1:undrain"}, sent.take())
	drained, err := d.Drained(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"gone"}, keys(drained))
}

func keys(m map[string]Entry) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
