package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/job"
)

// TestDynamicBatching: waiting jobs with the same model, size and steps run
// as one model batch, each still recorded and acked on its own; a job of
// another size is not mixed in.
func TestDynamicBatching(t *testing.T) {
	s := newStack(t)
	s.startIngest()
	// Queue the work before the runner starts, so it finds a full queue.
	for i := range 7 {
		publish(t, s.nc, fmtReq(fmt.Sprintf("batch me %d", i), 128, 128, 1+i%2, ""))
	}
	publish(t, s.nc, fmtReq("odd size out", 64, 64, 1, ""))
	require.Eventually(t, func() bool { return s.jobsInStream() == 8 }, 10*time.Second, 20*time.Millisecond)
	s.startRunner("runner-batch", "CYBERIMAGE_MAX_BATCH=4", "CYBERIMAGE_BATCH_WINDOW=200ms")

	recs := s.waitEnded(8, time.Minute)
	sizes := map[int]int{}
	for id, rec := range recs {
		require.Equal(t, job.StatusCompleted, rec.Status, id)
		require.Equal(t, 1, s.completions.of(id), id)
		checkImages(t, s, rec)
		if rec.Spec.Width == 64 {
			require.Equal(t, 1, rec.Stages.BatchSize, "a different size is never batched with the others")
			continue
		}
		sizes[rec.Stages.BatchSize]++
	}
	require.Greater(t, sizes[4]+sizes[3]+sizes[2], 0, "some 128×128 jobs ran batched: %v", sizes)
	for size, n := range sizes {
		require.LessOrEqual(t, size, 4, "batches never exceed CYBERIMAGE_MAX_BATCH")
		require.Zero(t, n%size, "batch sizes add up: %v", sizes)
	}
	require.Zero(t, s.jobsInStream())
}
