package index

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
	"cyberimage/shared/testenv"
)

// A watch can end on its own (nats.go closes it when its ordered consumer
// cannot be made again), or worse, go blind: when the bucket's stream is
// made again, the ordered consumer resumes at a sequence the new stream has
// not reached. The index notices either, watches again and rebuilds its
// view from the bucket as it is then, records deleted meanwhile included.
func TestIndexWatchesAgainWhenTheWatchEnds(t *testing.T) {
	n := testenv.StartNATS(t)
	_, js := n.Provisioned(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	store, err := jobstore.Open(ctx, js)
	require.NoError(t, err)
	_, err = store.Create(ctx, job.Record{JobID: "old", Status: job.StatusQueued, CreatedAt: time.Now()})
	require.NoError(t, err)

	x := New(store.KV(), zaptest.NewLogger(t))
	x.checkEvery = 200 * time.Millisecond
	require.NoError(t, x.Start(ctx))
	defer x.Stop()
	<-x.Ready()
	require.Equal(t, 1, x.Counts().Pending)

	// The bucket vanishes and comes back with other records.
	require.NoError(t, js.DeleteStream(ctx, "KV_"+bus.BucketJobs))
	require.NoError(t, bus.Ensure(ctx, js, bus.DefaultSettings()))
	store, err = jobstore.Open(ctx, js)
	require.NoError(t, err)
	_, err = store.Create(ctx, job.Record{JobID: "new", Status: job.StatusProcessing, CreatedAt: time.Now()})
	require.NoError(t, err)

	require.Eventually(t, func() bool {
		c := x.Counts()
		return x.Rewatches() > 0 && c.Pending == 0 && c.Processing == 1 && c.Total == 1
	}, 60*time.Second, 100*time.Millisecond, "the index watched again and forgot the deleted record: counts %+v, rewatches %d", x.Counts(), x.Rewatches())
}
