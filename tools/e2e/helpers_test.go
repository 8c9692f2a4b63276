package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/require"

	"cyberimage/shared/s3layout"
	"cyberimage/shared/testenv"
)

// repoPath is the path of a file or folder of the repository, by its
// path from the root: tests read the repository's own models, units and
// docs, not copies.
func repoPath(t testing.TB, path ...string) string {
	return filepath.Join(append([]string{testenv.RepoRoot(t)}, path...)...)
}

// readRepoFile reads a file of the repository, by its path from the root.
func readRepoFile(t *testing.T, path ...string) []byte {
	t.Helper()
	data, err := os.ReadFile(repoPath(t, path...))
	require.NoError(t, err)
	return data
}

func minioPrefix(jobID string) minio.ListObjectsOptions {
	return minio.ListObjectsOptions{Prefix: s3layout.JobPrefix(jobID), Recursive: true}
}

// requireAllCompletedAndDrained waits until the work queue is empty and
// /status and /api/queue agree with KV that exactly jobs jobs exist, all
// completed: what a chaos test expects once its jobs have ended.
func requireAllCompletedAndDrained(t *testing.T, s *stack, jobs int) {
	t.Helper()
	require.Eventually(t, func() bool { return s.jobsInStream() == 0 }, 30*time.Second, 200*time.Millisecond)
	require.Eventually(t, func() bool {
		var q map[string]int
		if s.getJSON("/api/queue", &q) != http.StatusOK {
			return false
		}
		st := statusAt(t, s.supervisorAddr)
		return q["completed"] == jobs && q["total"] == jobs && q["processing"] == 0 && q["pending"] == 0 &&
			st.Queue.Pending == 0 && st.Queue.InProgress == 0
	}, 30*time.Second, 200*time.Millisecond, "/status and /api/queue agree with KV")
}

// retryUntil calls try, on the test's goroutine (try may fail the test),
// every so often until it returns true; after limit it fails the test,
// saying what it waited for.
func retryUntil(t *testing.T, limit, every time.Duration, try func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(limit)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for !try() {
		if !time.Now().Before(deadline) {
			require.FailNow(t, "after "+limit.String()+": "+what())
		}
		<-tick.C
	}
}
