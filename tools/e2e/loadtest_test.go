package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/job"
	"cyberimage/shared/natsauth"
)

// TestLoadtestAgainstStack runs the operator tools as an operator would,
// against a stack of real processes: the loadtest command must fail while
// no runner works, then pass its load, stall and chaos tests once a healthy
// runner and one that hangs on "HANG" are up; the test's own KV watch must
// agree with it. The cyberimage CLI then reads the same stack.
func TestLoadtestAgainstStack(t *testing.T) {
	tools := buildCommands(t, "loadtest", "cyberimage")
	s := newFastStack(t)
	s.startServices()
	sup := "http://" + s.supervisorAddr
	loadtest := func(limit time.Duration, args ...string) (string, int) {
		return runCommand(t, limit, tools["loadtest"], append([]string{"--nats", s.nats.URL(), "--creds", s.creds(natsauth.Admin), "--supervisor", sup}, args...)...)
	}
	tokenFile := filepath.Join(t.TempDir(), "admin-token")
	require.NoError(t, os.WriteFile(tokenFile, []byte(testAdminToken+"\n"), 0o600))
	cli := func(args ...string) (string, int) {
		return runCommand(t, 30*time.Second, tools["cyberimage"], append([]string{"--supervisor", sup, "--admin-token-file", tokenFile}, args...)...)
	}

	// No runner: nothing can complete, and the tool must say so.
	out, code := loadtest(time.Minute, "--test", "load", "--jobs", "3", "--timeout", "3s")
	t.Logf("loadtest --test load without runners:\n%s", out)
	require.Equal(t, 1, code, out)
	requireRow(t, out, "load: jobs ended", "FAIL")
	requireRow(t, out, "load: all completed", "FAIL")
	require.Contains(t, out, "## Summary: ")

	s.startRunner("runner-hang", "CYBERIMAGE_FAULT_HANG_PROMPT=HANG")
	s.startRunner("runner-ok")
	out, code = loadtest(8*time.Minute, "--test", "all", "--jobs", "20", "--timeout", "2m")
	t.Logf("loadtest --test all:\n%s", out)
	require.Equal(t, 0, code, out)
	require.Regexp(t, `(?m)^\| check +\| result +\| detail +\|$`, out, "the summary table")
	require.NotRegexp(t, `\| FAIL +\|`, out)
	for _, row := range []string{
		"load: jobs ended", "load: all completed", "load: completed exactly once", "load: images = num_images",
		"load: JOBS stream drained", "load: /api/queue counts", "load: /v1/jobs lookups",
		"stall: a runner hung on the marker", "stall: hung job ended", "stall: completed exactly once",
		"chaos: invalid requests rejected", "chaos: duplicates answered", "chaos: corrected request queued",
		"chaos: all completed", "chaos: completed exactly once", "chaos: duplicates changed nothing",
	} {
		requireRow(t, out, row, "PASS")
	}
	require.Regexp(t, `\| load: latency p50 / p95 / p99 +\| \S+ / \S+ / \S+`, out)
	require.Regexp(t, `\| stall: detection time +\| \S+`, out)

	// The test's own watch agrees: everything ended (the jobs of the run
	// without runners too), each completion written once, and the stall
	// probe that hung was finished by the healthy runner after a recovery.
	recs := s.waitEnded(1, time.Minute)
	var completed, recovered string
	for id, rec := range recs {
		if rec.Status != job.StatusCompleted {
			continue
		}
		require.Equal(t, 1, s.completions.of(id), id)
		if strings.Contains(rec.Spec.Prompt, "HANG") && len(rec.Recoveries) > 0 {
			recovered = id
			require.Equal(t, "runner-hang", rec.Recoveries[0].Runner)
			require.Equal(t, "runner-ok", rec.Runner)
		}
		completed = id
	}
	require.NotEmpty(t, recovered, "a stall probe was recovered")
	require.Zero(t, s.jobsInStream())

	out, code = cli("status")
	t.Logf("cyberimage status:\n%s", out)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "runners (2)")
	require.Regexp(t, `runner-ok +healthy`, out)

	out, code = cli("job", completed)
	require.Equal(t, 0, code, out)
	var view struct {
		JobID     string `json:"job_id"`
		Status    string `json:"status"`
		ImageURLs []any  `json:"image_urls"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &view), out)
	require.Equal(t, completed, view.JobID)
	require.Equal(t, "completed", view.Status)
	require.Len(t, view.ImageURLs, recs[completed].Spec.NumImages)

	out, code = cli("retry", completed)
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "only failed jobs can be re-queued")

	out, code = cli("job", "NO-SUCH-JOB")
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "no job NO-SUCH-JOB")

	out, code = cli("queue")
	require.Equal(t, 0, code, out)
	var q struct {
		Completed int `json:"completed"`
		Failed    int `json:"failed"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &q), out)
	require.GreaterOrEqual(t, q.Completed, 20+3+20+1)
	require.Zero(t, q.Failed)

	_, code = cli()
	require.Equal(t, 2, code, "no command is a usage error")
	_, code = cli("retry")
	require.Equal(t, 2, code, "retry needs an id")
}

// requireRow checks a row of the loadtest summary table.
func requireRow(t *testing.T, out, check, result string) {
	t.Helper()
	require.Regexp(t, `(?m)^\| `+regexp.QuoteMeta(check)+` +\| `+result+` +\|`, out)
}
