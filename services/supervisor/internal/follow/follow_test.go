package follow

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"cyberimage/services/supervisor/internal/leaderpass/leaderpasstest"
	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
)

// TestReadEndedAndCheckpoint: a read of the bucket hands over only the
// ended jobs' records, in order, stops at its limit (if any) with the
// revision to read on from, and ends at to; a checkpoint is absent until saved and reads back what was saved. All
// of it with the supervisor's credentials: admin only provisions.
func TestReadEndedAndCheckpoint(t *testing.T) {
	_, js, store := leaderpasstest.Store(t)
	ctx := context.Background()
	spec := job.Spec{Prompt: "p", Model: "demo", Width: 64, Height: 64, Steps: 1, NumImages: 1}
	var revs []uint64
	for _, r := range []struct {
		id     string
		status job.Status
	}{{"A", job.StatusCompleted}, {"B", job.StatusQueued}, {"C", job.StatusFailed}, {"D", job.StatusCancelled}} {
		rev, err := store.Create(ctx, job.Record{JobID: r.id, Status: r.status, Spec: spec})
		require.NoError(t, err)
		revs = append(revs, rev)
	}

	ended, next, err := readEnded(ctx, store, 0, revs[3], 2)
	require.NoError(t, err)
	require.Equal(t, []string{"A", "C"}, ended, "the queued job is passed over")
	require.Equal(t, revs[2], next, "stopped at the limit")
	ended, next, err = readEnded(ctx, store, next, revs[3], 2)
	require.NoError(t, err)
	require.Equal(t, []string{"D"}, ended)
	require.Equal(t, revs[3], next)
	ended, next, err = readEnded(ctx, store, revs[3], revs[3]+10, 2)
	require.NoError(t, err)
	require.Empty(t, ended, "nothing past the bucket's end")
	require.Equal(t, revs[3]+10, next)
	ended, next, err = readEnded(ctx, store, 0, revs[3], 0)
	require.NoError(t, err)
	require.Equal(t, []string{"A", "C", "D"}, ended, "no limit: all of them, from one watch")
	require.Equal(t, revs[3], next)
	ended, next, err = readEnded(ctx, store, 0, revs[1], 0)
	require.NoError(t, err)
	require.Equal(t, []string{"A"}, ended, "ends at to")
	require.Equal(t, revs[1], next)

	state, err := js.KeyValue(ctx, bus.BucketSupervisor)
	require.NoError(t, err)
	for key, codec := range map[string]Codec{"binary-revision": Binary, "decimal-revision": Decimal} {
		cp := Checkpoint{State: state, Key: key, Codec: codec}
		_, found, err := cp.Load(ctx)
		require.NoError(t, err)
		require.False(t, found)
		require.NoError(t, cp.Save(ctx, 42))
		rev, found, err := cp.Load(ctx)
		require.NoError(t, err)
		require.True(t, found)
		require.Equal(t, uint64(42), rev)
	}
}

// readEnded is ReadEnded giving the ended jobs' IDs.
func readEnded(ctx context.Context, store *jobstore.Store, from, to uint64, limit int) (ids []string, next uint64, err error) {
	ended, next, err := ReadEnded(ctx, store.KV(), from, to, limit)
	for _, e := range ended {
		ids = append(ids, e.Record.JobID)
	}
	return ids, next, err
}
