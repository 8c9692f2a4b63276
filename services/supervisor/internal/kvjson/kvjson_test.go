package kvjson

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"cyberimage/shared/testenv"
)

// TestMain fails the package if a test leaves a goroutine running.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func bucket(t *testing.T) jetstream.KeyValue {
	_, js := testenv.StartNATS(t).Connect(t)
	kv, err := js.CreateKeyValue(context.Background(), jetstream.KeyValueConfig{Bucket: "test_kvjson"})
	require.NoError(t, err)
	return kv
}

// TestConcurrentUpdatesAreAllKept: writers racing on one key each redo
// their change on what the others wrote; none is lost.
func TestConcurrentUpdatesAreAllKept(t *testing.T) {
	kv := bucket(t)
	ctx := context.Background()
	testenv.Race(4, func(int) {
		_, err := Update(ctx, kv, "n", nil, func(n *int) bool { *n++; return true })
		require.NoError(t, err)
	})
	n, rev, err := Get[int](ctx, kv, "n", nil)
	require.NoError(t, err)
	require.Equal(t, 4, n)
	require.NotZero(t, rev)
}

// TestNoChangeWritesNothing: a change that changes nothing leaves the key
// as it was (no revision), and the value is returned as it is.
func TestNoChangeWritesNothing(t *testing.T) {
	kv := bucket(t)
	ctx := context.Background()
	v, err := Update(ctx, kv, "k", nil, func(s *string) bool { return false })
	require.NoError(t, err)
	require.Empty(t, v)
	_, rev, err := Get[string](ctx, kv, "k", nil)
	require.NoError(t, err)
	require.Zero(t, rev, "never written")
}

// TestUnreadableValues: a strict reader fails on a value it cannot read;
// a lenient one starts afresh and its update replaces the value.
func TestUnreadableValues(t *testing.T) {
	kv := bucket(t)
	ctx := context.Background()
	_, err := kv.Put(ctx, "k", []byte("not json"))
	require.NoError(t, err)
	_, _, err = Get[map[string]int](ctx, kv, "k", nil)
	require.Error(t, err)
	_, err = Update(ctx, kv, "k", nil, func(*map[string]int) bool { return true })
	require.Error(t, err, "a strict writer does not overwrite what it cannot read")

	lenient := func(data []byte, v *map[string]int) error {
		if json.Unmarshal(data, v) != nil {
			*v = nil
		}
		return nil
	}
	got, err := Update(ctx, kv, "k", lenient, func(m *map[string]int) bool { *m = map[string]int{"a": 1}; return true })
	require.NoError(t, err)
	require.Equal(t, map[string]int{"a": 1}, got)
	got, _, err = Get[map[string]int](ctx, kv, "k", nil)
	require.NoError(t, err)
	require.Equal(t, map[string]int{"a": 1}, got)
}
