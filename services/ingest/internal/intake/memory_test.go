package intake

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/job"
)

// TestRejectsWhatNoRunnerCouldFit: under a job memory budget a request the
// model cannot run within it is rejected with memory_budget_exceeded, the
// estimate and the budget; a sliceable model's largest request still passes.
func TestRejectsWhatNoRunnerCouldFit(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	p := params(t, b.nc, b.js, b.store, b.catalog)
	p.Models, p.Stats = b.catalog.WithMemoryBudget(512<<20), b.stats
	proc := New(p)
	require.NoError(t, proc.Start(ctx))
	defer func() { _ = proc.Stop(ctx) }()

	big := b.request(t, `{"prompt":"too big","model":"tiny-sd","width":2048,"height":2048,"request_id":"big"}`)
	require.Equal(t, job.StatusRejected, big.Status)
	require.NotNil(t, big.Error)
	require.Equal(t, job.CodeMemoryBudgetExceeded, big.Error.Code)
	require.Equal(t, "width", big.Error.Field)
	require.Contains(t, big.Error.Message, "the job memory budget is 512 MB")
	rec, _, err := b.store.Get(ctx, job.IDForRequestID("big"))
	require.NoError(t, err)
	require.Equal(t, job.StatusRejected, rec.Status)

	sliced := b.request(t, `{"prompt":"largest","width":2048,"height":2048,"num_images":8}`)
	require.Equal(t, job.StatusQueued, sliced.Status, "the demo model slices it to fit")
	require.EqualValues(t, 1, jobsPending(t, b.js))
	require.Equal(t, map[job.Code]int64{job.CodeMemoryBudgetExceeded: 1}, b.stats.Rejected())
}
