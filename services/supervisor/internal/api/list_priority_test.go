package api

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/job"
)

// TestListShowsEachJobsPriority: the jobs list names each job's class, for
// the console's column; a record from before priorities reads normal.
func TestListShowsEachJobsPriority(t *testing.T) {
	f := newAPIFixture(t)
	base := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	f.put(t, job.Record{JobID: "OLD", Status: job.StatusCompleted, CreatedAt: base})
	f.put(t, job.Record{JobID: "URGENT", Status: job.StatusQueued, CreatedAt: base.Add(time.Second)})
	_, err := f.store.Update(t.Context(), "URGENT", func(r *job.Record) error { r.Spec.Priority = job.PriorityHigh; return nil })
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		code, body := f.call(t, "GET", "/v1/jobs")
		require.Equal(t, http.StatusOK, code)
		got := map[string]any{}
		for _, j := range body["jobs"].([]any) {
			got[j.(map[string]any)["job_id"].(string)] = j.(map[string]any)["priority"]
		}
		return got["OLD"] == "normal" && got["URGENT"] == "high"
	}, 5*time.Second, 10*time.Millisecond)
}
