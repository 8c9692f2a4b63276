package e2e

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/natsauth"
)

// TestQueuedBehindLongJobsIsNotStalled: one runner, several long jobs
// queued at once, and a max_stalled_time longer than one run but shorter
// than two. The jobs the runner prefetched wait behind the one it runs;
// waiting is not processing, so every job completes on its first attempt
// and nothing is recovered.
func TestQueuedBehindLongJobsIsNotStalled(t *testing.T) {
	s := newFastStack(t, "CYBERIMAGE_ACK_WAIT=3s", "CYBERIMAGE_MAX_SILENT_TIME=0s")
	s.startIngest()
	s.startRunner("runner-1")

	// Calibrate: how long does one such run take on this machine now? The
	// first run also warms the model up (it took 3.4 s where later runs
	// took 1.4 on a busy CI machine), so the second one is the measure.
	long := func(i int) string { return fmtReq(fmt.Sprintf("long job %d", i), 1024, 1024, 2, `,"steps":4`) }
	warmUp := request(t, s.client, long(-1))
	s.waitEnded(1, time.Minute)
	first := request(t, s.client, long(0))
	recs := s.waitEnded(2, time.Minute)
	require.Equal(t, job.StatusCompleted, recs[warmUp.JobID].Status)
	run := runTime(t, recs[first.JobID])
	stall := run * 7 / 4
	t.Logf("one run takes %s; max_stalled_time %s", run.Round(time.Millisecond), stall.Round(time.Millisecond))
	s.startSupervisor("CYBERIMAGE_MAX_STALLED_TIME=" + stall.String())
	waitURL(t, s.url("/healthz"))

	// Six at once: the last waits five runs, far past max_stalled_time
	// even if runs get faster than the calibration's.
	const n = 6
	for i := 1; i <= n; i++ {
		publish(t, s.nc, long(i))
	}
	recs = s.waitEnded(n+2, 3*time.Minute)
	var longestWait time.Duration
	for id, rec := range recs {
		require.Equal(t, job.StatusCompleted, rec.Status, id)
		require.Equal(t, 1, rec.Attempts, "%s ran once: waiting behind another job is not a stall", id)
		require.Empty(t, rec.Recoveries, id)
		longestWait = max(longestWait, time.Duration(rec.Stages.QueueWaitMS*float64(time.Millisecond)))
	}
	require.Greater(t, longestWait, stall, "some job waited longer than max_stalled_time, so the test could fail")
	require.Empty(t, statusAt(t, s.supervisorAddr).Recoveries)
}

// runTime is how long a completed job's inference, encode and upload took.
func runTime(t *testing.T, rec job.Record) time.Duration {
	t.Helper()
	require.Equal(t, job.StatusCompleted, rec.Status)
	ms := rec.Stages.InferenceMS + rec.Stages.EncodeMS + rec.Stages.UploadMS
	return time.Duration(ms * float64(time.Millisecond))
}

// TestSkewedRunnerClocks: two runners whose clocks are ten minutes fast
// and ten minutes slow. Their jobs are judged by the server's and the
// supervisor's times, so nothing is taken away for stalling or silence,
// and both stay listed as healthy.
func TestSkewedRunnerClocks(t *testing.T) {
	s := newFastStack(t, "CYBERIMAGE_MAX_STALLED_TIME=20s", "CYBERIMAGE_MAX_SILENT_TIME=3s", "CYBERIMAGE_RUNNER_TIMEOUT=3s")
	s.startAll("runner-slow", "CYBERIMAGE_FAULT_CLOCK_SKEW=-10m")
	s.startRunner("runner-fast", "CYBERIMAGE_FAULT_CLOCK_SKEW=10m")
	const n = 12
	for i := range n {
		publish(t, s.nc, fmtReq(fmt.Sprintf("skewed %d", i), 512, 512, 1, `,"steps":6`))
	}
	recs := s.waitEnded(n, 2*time.Minute)
	ran := map[string]int{}
	for id, rec := range recs {
		require.Equal(t, job.StatusCompleted, rec.Status, id)
		require.Empty(t, rec.Recoveries, "%s was not taken away", id)
		require.Equal(t, 1, rec.Attempts, id)
		ran[rec.Runner]++
	}
	require.NotZero(t, ran["runner-slow"], "the slow-clock runner ran jobs: %v", ran)
	require.NotZero(t, ran["runner-fast"], "the fast-clock runner ran jobs: %v", ran)
	// The scenario, not a wait for a result: real time runs past the
	// runner timeout, after which a heartbeat judged by the runner's slow
	// clock would read as lost; the supervisor's must not.
	time.Sleep(4 * time.Second)
	st := statusAt(t, s.supervisorAddr)
	health := map[string]string{}
	for _, r := range st.Runners {
		health[r.Runner] = r.Health
	}
	require.Equal(t, map[string]string{"runner-slow": "healthy", "runner-fast": "healthy"}, health)
	require.Empty(t, st.Recoveries)
}

// TestHangEverywhereFailsFast: the README's stall demo with compressed
// timings. Every runner hangs on the marker, so each delivery is recovered
// after max_stalled_time; the next delivery starts within the recovery NAK
// delay plus the cool-off, and the last stall fails the job at once, with
// its reason and a dead letter, instead of waiting for the server.
func TestHangEverywhereFailsFast(t *testing.T) {
	const (
		maxDeliver = 4
		stalled    = 1500 * time.Millisecond
		check      = 250 * time.Millisecond
		nakBase    = 200 * time.Millisecond
		cooloff    = time.Second
	)
	s := newFastStack(t, fmt.Sprintf("CYBERIMAGE_MAX_DELIVER=%d", maxDeliver), "CYBERIMAGE_ABANDON_COOLOFF="+cooloff.String(),
		"CYBERIMAGE_MAX_STALLED_TIME="+stalled.String())
	s.startAll("runner-1", "CYBERIMAGE_FAULT_HANG_PROMPT=HANG")
	s.startRunner("runner-2", "CYBERIMAGE_FAULT_HANG_PROMPT=HANG")
	starts := watchRunStarts(t, s.nc)
	sent := time.Now()
	r := request(t, s.client, fmtReq("HANG on every runner", 64, 64, 1, ""))

	var nakDelays time.Duration
	for i := 1; i < maxDeliver; i++ {
		nakDelays += nakBase << (i - 1) * 12 / 10
	}
	limit := maxDeliver*(stalled+check) + nakDelays + 10*time.Second
	rec := s.waitEnded(1, limit+30*time.Second)[r.JobID]
	took := rec.CompletedAt.Sub(sent)
	t.Logf("failed %s after the request (limit %s): %s", took.Round(time.Millisecond), limit, rec.Error.Message)
	require.Equal(t, job.StatusFailed, rec.Status)
	require.Equal(t, job.CodeRetriesExhausted, rec.Error.Code)
	require.Contains(t, rec.Error.Message, "max_stalled_time")
	require.Len(t, rec.Recoveries, maxDeliver)
	require.Less(t, took, limit)

	// Each redelivery began within its NAK delay (+20% jitter) and the
	// cool-off of the runner it left, plus a second for the machine.
	for i := 1; i < maxDeliver; i++ {
		begun, ok := starts.of(r.JobID, i+1)
		require.True(t, ok, "delivery %d started", i+1)
		gap := begun.Sub(rec.Recoveries[i-1].At)
		bound := (nakBase<<(i-1))*12/10 + cooloff + time.Second
		t.Logf("delivery %d began %s after recovery %d (bound %s)", i+1, gap.Round(time.Millisecond), i, bound)
		require.Less(t, gap, bound, "delivery %d", i+1)
	}

	dlq, err := s.js.Stream(context.Background(), bus.StreamDLQ)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, err := dlq.GetLastMsgForSubject(context.Background(), bus.DLQSubject("demo", r.JobID))
		return err == nil
	}, 10*time.Second, 100*time.Millisecond, "dead-lettered")
	require.Zero(t, s.jobsInStream(), "no work left in the queue")
}

// runStarts records when each delivery of each job started running, from
// the runner's "processing" event at step 0 (the claim).
type runStarts struct {
	mu sync.Mutex
	at map[string]time.Time // "<job_id>/<attempt>"
}

func watchRunStarts(t *testing.T, nc *nats.Conn) *runStarts {
	t.Helper()
	rs := &runStarts{at: map[string]time.Time{}}
	onEvents(t, nc, func(e bus.ProgressEvent) {
		if e.Status != job.StatusProcessing || e.Step != 0 {
			return
		}
		key := fmt.Sprintf("%s/%d", e.JobID, e.Attempt)
		rs.mu.Lock()
		if _, seen := rs.at[key]; !seen {
			rs.at[key] = time.Now()
		}
		rs.mu.Unlock()
	})
	return rs
}

func (rs *runStarts) of(jobID string, attempt int) (time.Time, bool) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	at, ok := rs.at[fmt.Sprintf("%s/%d", jobID, attempt)]
	return at, ok
}

// TestStallDemoAsDocumented runs the README's stall demo the way it is
// documented, with compressed timings: every runner hangs on the marker,
// and loadtest's stall check must see the probes end failed with a reason.
func TestStallDemoAsDocumented(t *testing.T) {
	tools := buildCommands(t, "loadtest")
	s := newFastStack(t, "CYBERIMAGE_ABANDON_COOLOFF=1s", "CYBERIMAGE_MAX_STALLED_TIME=1500ms")
	s.startAll("runner-1", "CYBERIMAGE_FAULT_HANG_PROMPT=HANG")
	s.startRunner("runner-2", "CYBERIMAGE_FAULT_HANG_PROMPT=HANG")
	out, code := runCommand(t, 3*time.Minute, tools["loadtest"], "--nats", s.nats.URL(), "--creds", s.creds(natsauth.Admin), "--supervisor", "http://"+s.supervisorAddr,
		"--test", "stall", "--timeout", "2m")
	t.Logf("loadtest --test stall, every runner hanging:\n%s", out)
	require.Equal(t, 0, code, out)
	requireRow(t, out, "stall: a runner hung on the marker", "PASS")
	requireRow(t, out, "stall: hung job ended", "PASS")
	require.Contains(t, out, "failed (every runner hung)")
	// Four deliveries; fewer runs when a quarantined runner handed a job it
	// had taken ahead back unstarted (a NAK counts as a delivery).
	require.Regexp(t, `\| stall: outcome +\| failed after [1-4] attempt\(s\), [1-4] recovery\(ies\)`, out)
}
