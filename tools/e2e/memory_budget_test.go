package e2e

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/job"
)

// TestJobMemoryBudget: a runner with CYBERIMAGE_JOB_MEMORY_MB=512 runs the
// largest valid request (2048×2048, 8 images) within its budget above idle,
// gives the memory back after the job, and ingest rejects, with
// memory_budget_exceeded, a request no runner could fit.
func TestJobMemoryBudget(t *testing.T) {
	const budgetMB = 512
	s := newStack(t, fmt.Sprintf("CYBERIMAGE_JOB_MEMORY_MB=%d", budgetMB))
	s.startIngest()
	runner := s.startRunner("runner-budget", "CYBERIMAGE_LOG_LEVEL=info")
	pid := runner.cmd.Process.Pid

	// Load the model with a small job, then let the runner settle.
	warm := request(t, s.client, fmtReq("warm up", 64, 64, 1, `,"steps":1`))
	require.Equal(t, job.StatusQueued, warm.Status)
	waitCompleted(t, s, warm.JobID, time.Minute)
	idle := settledRSSKiB(t, pid)

	var mu sync.Mutex
	peak := 0
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if kib, err := readVmRSS(pid); err == nil {
				mu.Lock()
				peak = max(peak, kib)
				mu.Unlock()
			}
		}
	}()
	t0 := time.Now()
	big := request(t, s.client, fmtReq("the largest request", 2048, 2048, 8, `,"steps":1`))
	require.Equal(t, job.StatusQueued, big.Status, "the demo model slices the largest request into the budget")
	rec := waitCompleted(t, s, big.JobID, 5*time.Minute)
	wall := time.Since(t0)
	close(stop)
	<-sampled
	require.Len(t, rec.Images, 8)

	limit := budgetMB*1024 + idle
	t.Logf("runner RSS: idle %d MiB, peak %d MiB during 2048x2048x8 (budget %d MiB + idle = %d MiB); inference %.0f ms, encode %.0f ms, job %s",
		idle/1024, peak/1024, budgetMB, limit/1024, rec.Stages.InferenceMS, rec.Stages.EncodeMS, wall.Round(time.Millisecond))
	require.LessOrEqual(t, peak, limit, "peak RSS over budget + idle")

	done := time.Now()
	var after int
	require.Eventually(t, func() bool {
		after = vmRSSKiB(t, pid)
		return float64(after) <= 1.5*float64(idle)
	}, 20*time.Second, 250*time.Millisecond, "RSS did not come back within 1.5x idle (%d KiB)", idle)
	t.Logf("runner RSS %d MiB (%.2fx idle) %s after the job completed", after/1024, float64(after)/float64(idle),
		time.Since(done).Round(100*time.Millisecond))

	over := request(t, s.client, `{"prompt":"too big","model":"tiny-sd","width":2048,"height":2048}`)
	require.Equal(t, job.StatusRejected, over.Status)
	require.NotNil(t, over.Error)
	require.Equal(t, job.CodeMemoryBudgetExceeded, over.Error.Code)
	require.Contains(t, over.Error.Message, fmt.Sprintf("budget is %d MB", budgetMB))
	t.Logf("rejected: %s", over.Error.Message)
}

// waitCompleted waits until a job's record is completed and returns it.
func waitCompleted(t testing.TB, s *stack, id string, limit time.Duration) job.Record {
	t.Helper()
	var rec job.Record
	require.Eventually(t, func() bool {
		r, _, err := s.store.Get(context.Background(), id)
		if err != nil {
			return false
		}
		require.NotEqual(t, job.StatusFailed, r.Status, "job failed: %+v", r.Error)
		rec = r
		return r.Status == job.StatusCompleted
	}, limit, 50*time.Millisecond, "job %s did not complete", id)
	return rec
}
