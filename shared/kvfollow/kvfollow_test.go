package kvfollow

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"cyberimage/shared/bus"
	"cyberimage/shared/natsauth"
	"cyberimage/shared/testenv"
)

// TestStuckTellsABlindWatchFromASlowOne: a watch is stale only when the
// bucket was ahead at two checks in a row and nothing was applied between.
func TestStuckTellsABlindWatchFromASlowOne(t *testing.T) {
	var s Stuck
	for i, c := range []struct {
		bucket, applied uint64
		stale           bool
	}{
		{10, 10, false}, // level
		{12, 10, false}, // ahead: remembered
		{13, 11, false}, // moved since: behind, not blind
		{13, 11, true},  // ahead again, nothing applied since
		{13, 13, false}, // level: forgotten
		{14, 13, false},
	} {
		require.Equal(t, c.stale, s.Stale(c.bucket, c.applied), "check %d", i)
	}
}

// TestFollowerWatchesAgainAfterAStaleWatch: the first watch delivers what
// the bucket holds and is caught up; a watch its Stale finds stale is
// made again and delivers what was put since; Stop ends it all.
func TestFollowerWatchesAgainAfterAStaleWatch(t *testing.T) {
	// Watched as the supervisor watches the job records: with its own
	// credentials, the bucket made by provisioning.
	n := testenv.StartNATSWithAuth(t)
	n.Provisioned(t, "demo")
	_, js := n.ConnectAs(t, natsauth.Supervisor)
	ctx := context.Background()
	kv, err := js.KeyValue(ctx, bus.BucketJobs)
	require.NoError(t, err)
	_, err = kv.PutString(ctx, "a", "1")
	require.NoError(t, err)

	var mu sync.Mutex
	seen := map[string]int{}
	var watches, caughtUp atomic.Int32
	var agains []bool // each watch's again, under mu
	var stale atomic.Bool
	var f Follower
	err = f.Start(10*time.Millisecond, zaptest.NewLogger(t), Hooks{
		Watch: func(ctx context.Context, again bool) (jetstream.KeyWatcher, error) {
			mu.Lock()
			agains = append(agains, again)
			mu.Unlock()
			watches.Add(1)
			return kv.WatchAll(ctx)
		},
		Apply: func(e jetstream.KeyValueEntry) {
			mu.Lock()
			defer mu.Unlock()
			seen[e.Key()]++
		},
		CaughtUp: func() { caughtUp.Add(1) },
		Progress: func() {},
		Stale:    func(context.Context, *Stuck) bool { return stale.Swap(false) },
	})
	require.NoError(t, err)
	count := func(key string) int {
		mu.Lock()
		defer mu.Unlock()
		return seen[key]
	}
	require.Eventually(t, func() bool { return caughtUp.Load() == 1 && count("a") == 1 }, 5*time.Second, 5*time.Millisecond)

	stale.Store(true)
	require.Eventually(t, func() bool { return watches.Load() == 2 && caughtUp.Load() == 2 }, 5*time.Second, 5*time.Millisecond,
		"watches %d, caught up %d", watches.Load(), caughtUp.Load())
	_, err = kv.PutString(ctx, "b", "2")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return count("b") == 1 }, 5*time.Second, 5*time.Millisecond)
	require.Equal(t, 2, count("a"), "each watch delivers the bucket anew")

	require.Equal(t, int64(1), f.Rewatches())
	require.NoError(t, f.Stop(ctx))
	require.Equal(t, []bool{false, true}, agains, "Start makes the first watch, the follow the next")
	var never Follower
	require.NoError(t, never.Stop(ctx), "Stop before Start")
}
