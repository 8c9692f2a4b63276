package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
)

// TestQuarantinedRunnerPullsNothingUntilReloaded: a runner that stalls on
// two jobs at once is ordered to reload its models. Its model file has
// gone missing, so the reload fails: it stays quarantined, shows unhealthy
// and takes none of the jobs that arrive meanwhile, which another runner
// runs. Once the file is back the reload succeeds and it works again.
func TestQuarantinedRunnerPullsNothingUntilReloaded(t *testing.T) {
	s := newFastStack(t, "CYBERIMAGE_ABANDON_COOLOFF=500ms")
	ev := s.startFront()
	models := copyDemoModel(t)
	s.startRunner("runner-q", "CYBERIMAGE_MODELS_DIR="+models, "CYBERIMAGE_SLOTS=2", "CYBERIMAGE_FAULT_HANG_PROMPT=HANG")
	// A first job loads the model; then its file goes missing, which only
	// a reload notices.
	warm := request(t, s.client, fmtReq("warm up", 64, 64, 1, "")).JobID
	require.Equal(t, job.StatusCompleted, s.waitEnded(1, time.Minute)[warm].Status)
	file := filepath.Join(models, "demo", "model.onnx")
	require.NoError(t, os.Rename(file, file+".away"))
	hung := []string{
		request(t, s.client, fmtReq("HANG one", 64, 64, 1, "")).JobID,
		request(t, s.client, fmtReq("HANG two", 64, 64, 1, "")).JobID,
	}
	require.Eventually(t, func() bool {
		return ev.by("runner-q", hung[0], job.StatusProcessing) > 0 && ev.by("runner-q", hung[1], job.StatusProcessing) > 0
	}, 30*time.Second, 10*time.Millisecond, "both hang on runner-q")
	ok := s.startRunner("runner-ok")

	health := func() string {
		for _, r := range statusAt(t, s.supervisorAddr).Runners {
			if r.Runner == "runner-q" {
				return r.Health
			}
		}
		return "absent"
	}
	require.Eventually(t, func() bool { return health() == "unhealthy" }, 30*time.Second, 100*time.Millisecond)
	beat := lastHeartbeat(t, s, "runner-q")
	require.True(t, beat.Quarantined, "the runner reports itself quarantined")

	var during []string
	for i := range 6 {
		during = append(during, request(t, s.client, fmtReq(fmt.Sprintf("while quarantined %d", i), 64, 64, 1, "")).JobID)
	}
	recs := s.waitEnded(1+len(hung)+len(during), time.Minute)
	for _, id := range append(during, hung...) {
		require.Equal(t, job.StatusCompleted, recs[id].Status, id)
		require.Equal(t, "runner-ok", recs[id].Runner, "%s ran on the healthy runner", id)
	}
	for _, id := range during {
		require.Zero(t, ev.by("runner-q", id, job.StatusProcessing), "the quarantined runner did not start %s", id)
	}
	require.Equal(t, "unhealthy", health(), "still quarantined: the reload keeps failing")

	require.NoError(t, os.Rename(file+".away", file))
	require.Eventually(t, func() bool { return health() == "healthy" }, time.Minute, 100*time.Millisecond, "reloaded")
	beat = lastHeartbeat(t, s, "runner-q")
	require.False(t, beat.Quarantined)
	require.NotEmpty(t, beat.LastReload)
	// With the other runner gone, the reloaded one takes work again.
	ok.stop(t)
	after := request(t, s.client, fmtReq("after the reload", 64, 64, 1, "")).JobID
	require.Equal(t, "runner-q", s.waitEnded(1+len(hung)+len(during)+1, time.Minute)[after].Runner)
}

// TestSigtermWithWedgedInferenceExits3: a runner told to stop while its
// inference ignores termination hands the job back and exits with code 3
// within its stop timeout; another runner completes the job at once.
func TestSigtermWithWedgedInferenceExits3(t *testing.T) {
	const stopTimeout = 3 * time.Second
	s := newFastStack(t, "CYBERIMAGE_MAX_STALLED_TIME=10m", "CYBERIMAGE_ACK_WAIT=30s")
	ev := s.startFront()
	wedged := s.startRunner("runner-wedged", "CYBERIMAGE_FAULT_HANG_PROMPT=WEDGE", "CYBERIMAGE_FAULT_HANG_STUCK=true",
		"CYBERIMAGE_STOP_TIMEOUT="+stopTimeout.String())
	r := s.requestUntil(ev, "runner-wedged", 1, fmtReq("WEDGE the gpu", 64, 64, 1, ""))
	s.startRunner("runner-ok")
	sent := time.Now()
	require.NoError(t, wedged.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-wedged.exited:
	case <-time.After(stopTimeout + 10*time.Second):
		t.Fatal("the runner with a wedged inference did not exit")
	}
	took := time.Since(sent)
	t.Logf("exited %s after SIGTERM (stop timeout %s)", took.Round(time.Millisecond), stopTimeout)
	require.Equal(t, 3, wedged.cmd.ProcessState.ExitCode())
	require.Less(t, took, stopTimeout+time.Second)
	rec := s.waitEnded(1, 20*time.Second)[r.JobID] // well inside the 30 s AckWait: it was handed back
	require.Equal(t, job.StatusCompleted, rec.Status)
	require.Equal(t, "runner-ok", rec.Runner)
	require.Equal(t, 1, s.completions.of(r.JobID))
}

// lastHeartbeat waits for the runner's next heartbeat.
func lastHeartbeat(t *testing.T, s *stack, runner string) bus.Heartbeat {
	t.Helper()
	sub, err := s.nc.SubscribeSync(bus.HeartbeatSubject(runner))
	require.NoError(t, err)
	defer sub.Unsubscribe()
	m, err := sub.NextMsg(10 * time.Second)
	require.NoError(t, err)
	var h bus.Heartbeat
	require.NoError(t, json.Unmarshal(m.Data, &h))
	return h
}
