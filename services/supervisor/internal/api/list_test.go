package api

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/services/supervisor/internal/index"
	"cyberimage/shared/job"
)

// Paging while jobs arrive and change: every job that existed when paging
// began comes back exactly once, newest first, and filters hold.
func TestPagingReturnsEveryJobOnceWhileJobsArrive(t *testing.T) {
	f := newAPIFixture(t)
	base := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	want := map[string]bool{}
	for i := range 57 {
		status := job.StatusCompleted
		if i%5 == 0 {
			status = job.StatusFailed
		}
		// Some share a creation time: ties are broken by id.
		id := fmt.Sprintf("J%03d", i)
		f.put(t, job.Record{JobID: id, Status: status, CreatedAt: base.Add(time.Duration(i/3) * time.Second)})
		if i == 42 {
			_, err := f.store.Update(t.Context(), id, func(r *job.Record) error { r.Spec.Prompt = "A Lighthouse at dusk"; return nil })
			require.NoError(t, err)
		}
		want[id] = true
	}
	waitIndexed(t, f, 57)

	seen := map[string]bool{}
	cursor := ""
	var last time.Time
	for page := 0; ; page++ {
		path := "/v1/jobs?limit=10"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		code, body := f.call(t, "GET", path)
		require.Equal(t, http.StatusOK, code, body)
		for _, j := range body["jobs"].([]any) {
			m := j.(map[string]any)
			id := m["job_id"].(string)
			require.False(t, seen[id], "job %s listed twice", id)
			seen[id] = true
			created, err := time.Parse(time.RFC3339Nano, m["created_at"].(string))
			require.NoError(t, err)
			if !last.IsZero() {
				require.False(t, created.After(last), "newest first")
			}
			last = created
		}
		// Meanwhile new jobs arrive (newer than any listed) and an old one
		// changes status: neither may disturb the pages to come.
		f.put(t, job.Record{JobID: fmt.Sprintf("N%03d", page), Status: job.StatusQueued, CreatedAt: base.Add(time.Hour + time.Duration(page)*time.Second)})
		next, _ := body["next_cursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	for id := range want {
		require.True(t, seen[id], "job %s never listed", id)
	}
	for id := range seen {
		require.True(t, want[id], "job %s arrived after paging began but was listed", id)
	}

	code, body := f.call(t, "GET", "/v1/jobs?status=failed&limit=500")
	require.Equal(t, http.StatusOK, code)
	require.Len(t, body["jobs"], 12)
	require.NotContains(t, body, "next_cursor")
	code, body = f.call(t, "GET", "/v1/jobs?q=lighthouse")
	require.Equal(t, http.StatusOK, code)
	require.Len(t, body["jobs"], 1, "the prompt search ignores case")
	require.Equal(t, "J042", body["jobs"].([]any)[0].(map[string]any)["job_id"])
	for _, bad := range []string{"?status=lost", "?limit=0", "?limit=501", "?cursor=***", "?cursor=bm90LWEtY3Vyc29y"} {
		code, _ := f.call(t, "GET", "/v1/jobs"+bad)
		require.Equal(t, http.StatusBadRequest, code, bad)
	}
}

func waitIndexed(t *testing.T, f *apiFixture, n int) {
	t.Helper()
	require.Eventually(t, func() bool {
		page, _, err := f.idx.List(context.Background(), index.Filter{}, nil, n)
		require.NoError(t, err)
		return len(page) >= n
	}, 5*time.Second, 10*time.Millisecond)
}

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
