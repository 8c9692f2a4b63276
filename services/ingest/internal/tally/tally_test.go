package tally

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
	"cyberimage/shared/natsauth"
	"cyberimage/shared/testenv"
)

// The tally follows the records with ingest's rights, catches up with
// those written before it started, and keeps following across a restart
// of the NATS server (its watch ends or is made again).
func TestTallyFollowsTheRecords(t *testing.T) {
	n := testenv.StartNATSWithAuth(t)
	n.Provisioned(t, "demo")
	_, js := n.ConnectAs(t, natsauth.Ingest)
	ctx := context.Background()
	store, err := jobstore.Open(ctx, js)
	require.NoError(t, err)
	write := func(id, client string) {
		t.Helper()
		rec := job.NewQueued(id, job.Spec{Model: "demo", Prompt: "p"}, time.Now(), "")
		rec.Client = client
		_, err := store.Create(ctx, rec)
		require.NoError(t, err)
	}
	write("before-1", "alice")
	write("before-2", "bob")

	tl := New(store.KV(), limits(t, "*=10/0"), zaptest.NewLogger(t))
	tl.checkEvery = 50 * time.Millisecond
	require.False(t, tl.Ready())
	require.NoError(t, tl.Start(ctx))
	defer func() { require.NoError(t, tl.Stop(ctx)) }()
	select {
	case <-tl.CaughtUp():
	case <-time.After(10 * time.Second):
		t.Fatal("the tally never caught up")
	}
	require.Equal(t, Usage{Queued: 1, LastMinute: 1}, tl.Usage("alice"))
	require.Equal(t, 1, tl.Usage("bob").Queued)

	n.Restart()
	write("after", "alice")
	require.Eventually(t, func() bool { return tl.Usage("alice").Queued == 2 }, 20*time.Second, 20*time.Millisecond,
		"the tally stopped following after the restart: %+v", tl.Usage("alice"))
	_, err = store.Update(ctx, "before-1", func(r *job.Record) error { return job.Cancel(r, "by the test", time.Now()) })
	require.NoError(t, err)
	require.Eventually(t, func() bool { return tl.Usage("alice").Queued == 1 }, 10*time.Second, 20*time.Millisecond)
}
