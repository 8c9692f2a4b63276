package index

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/job"
)

// A watch can end on its own (nats.go closes it when its ordered consumer
// cannot be made again), or worse, go blind: when the bucket's stream is
// made again, the ordered consumer resumes at a sequence the new stream has
// not reached. The index notices either, watches again and rebuilds its
// view from the bucket as it is then, records deleted meanwhile included.
func TestIndexWatchesAgainWhenTheWatchEnds(t *testing.T) {
	b := newBucket(t, 90*time.Second)
	_, err := b.store.Create(b.ctx, job.Record{JobID: "old", Status: job.StatusQueued, CreatedAt: time.Now()})
	require.NoError(t, err)

	x := b.index(t)
	x.checkEvery = 200 * time.Millisecond
	b.start(t, x)
	require.Equal(t, 1, x.Counts().Pending)

	// The bucket vanishes and comes back with other records.
	b.remake(t)
	_, err = b.store.Create(b.ctx, job.Record{JobID: "new", Status: job.StatusProcessing, CreatedAt: time.Now()})
	require.NoError(t, err)

	require.Eventually(t, func() bool {
		c := x.Counts()
		return x.Rewatches() > 0 && c.Pending == 0 && c.Processing == 1 && c.Total == 1
	}, 60*time.Second, 100*time.Millisecond, "the index watched again and forgot the deleted record: counts %+v, rewatches %d", x.Counts(), x.Rewatches())
}
