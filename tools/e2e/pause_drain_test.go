package e2e

import (
	"fmt"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/natsauth"
	"cyberimage/shared/statusapi"
)

// An operator's maintenance (issue 27): a model's queue paused and
// resumed, a runner drained and undrained, over the admin API, through
// supervisor and runner restarts.

// fleet is /status, read from the test's supervisor.
func (s *stack) fleet() statusapi.Status {
	s.t.Helper()
	var st statusapi.Status
	require.Equal(s.t, http.StatusOK, s.getJSON("/status", &st))
	return st
}

// modelPaused is what /status says of a model's queue.
func (s *stack) modelPaused(model string) bool {
	s.t.Helper()
	for _, m := range s.fleet().Models {
		if m.Name == model {
			return m.Paused
		}
	}
	s.t.Fatalf("/status lists no model %s", model)
	return false
}

// waitDrained waits until /status says the runner is drained (or not) and
// its heartbeat agrees; it returns the runner's boot.
func (s *stack) waitDrained(runner string, drained bool) string {
	s.t.Helper()
	boot := ""
	require.Eventually(s.t, func() bool {
		var ok bool
		boot, ok = s.drainedAs(runner, drained)
		return ok
	}, 30*time.Second, 50*time.Millisecond, "%s drained %v by /status and by its heartbeat", runner, drained)
	return boot
}

// drainedAs reports whether /status says the live runner is drained (or
// not) and its heartbeat agrees, and the boot of the process it heard.
func (s *stack) drainedAs(runner string, drained bool) (boot string, ok bool) {
	var st statusapi.Status
	if s.getJSON("/status", &st) != http.StatusOK {
		return "", false
	}
	for _, r := range st.Runners {
		if r.Runner == runner && r.Health == "healthy" && r.Draining == drained && !r.DrainPending {
			return r.Boot, true
		}
	}
	return "", false
}

// heartbeats counts a runner's heartbeats from now on, heard with the
// supervisor's rights (the role that hears heartbeats), not the admin's.
func (s *stack) heartbeats(runner string) func() int {
	s.t.Helper()
	sup, _ := s.nats.ConnectAs(s.t, natsauth.Supervisor)
	sub, err := sup.SubscribeSync(bus.HeartbeatSubject(runner))
	require.NoError(s.t, err)
	s.t.Cleanup(func() { _ = sub.Unsubscribe() })
	n := 0
	return func() int {
		for {
			if _, err := sub.NextMsg(0); err != nil {
				return n
			}
			n++
		}
	}
}

// requireStillQueued watches until the runner has sent beats more
// heartbeats (each pull it makes ends within a heartbeat or four), failing
// at once if any of ids leaves queued meanwhile.
func (s *stack) requireStillQueued(runner string, beats int, ids ...string) {
	s.t.Helper()
	count := s.heartbeats(runner)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(30 * time.Second)
	for count() < beats {
		require.True(s.t, time.Now().Before(deadline), "%s sent %d heartbeats of %d", runner, count(), beats)
		for _, id := range ids {
			require.Equal(s.t, job.StatusQueued, s.record(id).Status, "job %s of a paused or drained queue started", id)
		}
		<-tick.C
	}
}

// TestPauseAndResumeAModel: jobs of a paused model wait, whatever their
// priority, while a runner serving it pulls; the pause is the queue's own
// (it survives a supervisor restart) and shows in /status and /metrics;
// resumed, every job completes.
func TestPauseAndResumeAModel(t *testing.T) {
	s := newStack(t)
	sup := s.startSupervisor()
	s.startIngest()

	require.Equal(t, http.StatusUnauthorized, postWith(t, s.url("/v1/models/demo/pause"), nil))
	require.Equal(t, http.StatusNotFound, post(t, s.url("/v1/models/ghost/pause")))
	require.Equal(t, http.StatusOK, post(t, s.url("/v1/models/demo/pause")))
	require.True(t, s.modelPaused("demo"))
	var ids []string
	for i, class := range []string{"", `,"priority":"high"`, `,"priority":"low"`, ""} {
		ids = append(ids, request(t, s.client, fmtReq(fmt.Sprintf("paused %d", i), 64, 64, 1, class)).JobID)
	}
	s.startRunner("runner-1")
	s.requireStillQueued("runner-1", 6, ids...)

	sup.stop(t)
	s.startSupervisor()
	require.True(t, s.modelPaused("demo"), "the pause outlives the supervisor")
	require.Equal(t, 1.0, metricValue(scrape(t, s.url("/metrics")), `cyberimage_model_paused{model="demo"}`))
	s.requireStillQueued("runner-1", 2, ids...)

	require.Equal(t, http.StatusOK, post(t, s.url("/v1/models/demo/resume")))
	require.False(t, s.modelPaused("demo"))
	for _, id := range ids {
		waitCompleted(t, s, id, time.Minute)
	}
	require.Zero(t, metricValue(scrape(t, s.url("/metrics")), `cyberimage_model_paused{model="demo"}`))
}

// TestDrainARunnerWithAJobRunning: a drained runner finishes the job it
// runs, takes no other (another runner takes them all), and stays up;
// undrained, it takes work again.
func TestDrainARunnerWithAJobRunning(t *testing.T) {
	s := newStack(t)
	ev := s.startAll("runner-a")
	s.waitDrained("runner-a", false) // heard by the supervisor: only such a runner may be drained
	long := s.requestUntil(ev, "runner-a", 1, fmtReq("finish me while drained", 1024, 1024, 2, `,"steps":30`))

	require.Equal(t, http.StatusNotFound, post(t, s.url("/v1/runners/ghost/drain")))
	require.Equal(t, http.StatusAccepted, post(t, s.url("/v1/runners/runner-a/drain")))
	s.waitDrained("runner-a", true)
	require.Equal(t, job.StatusProcessing, s.record(long.JobID).Status, "drained while its job runs")
	require.Equal(t, 1.0, metricValue(scrape(t, s.url("/metrics")), `cyberimage_runner_draining{runner="runner-a"}`))
	var queued []string
	for i := range 4 {
		queued = append(queued, request(t, s.client, fmtReq(fmt.Sprintf("not on a drained runner %d", i), 64, 64, 1, "")).JobID)
	}
	rec := waitCompleted(t, s, long.JobID, 2*time.Minute)
	require.Equal(t, "runner-a", rec.Runner, "the drained runner finished its job")
	s.requireStillQueued("runner-a", 4, queued...)

	s.startRunner("runner-b")
	for _, id := range queued {
		require.Equal(t, "runner-b", waitCompleted(t, s, id, time.Minute).Runner, "job %s", id)
	}
	require.Equal(t, http.StatusAccepted, post(t, s.url("/v1/runners/runner-a/undrain")))
	s.waitDrained("runner-a", false)
	require.Equal(t, http.StatusAccepted, post(t, s.url("/v1/runners/runner-b/drain")))
	s.waitDrained("runner-b", true)
	again := request(t, s.client, fmtReq("undrained", 64, 64, 1, "")).JobID
	require.Equal(t, "runner-a", waitCompleted(t, s, again, time.Minute).Runner, "undrained, it takes work again")
	require.Zero(t, metricValue(scrape(t, s.url("/metrics")), `cyberimage_runner_draining{runner="runner-a"}`))
}

// TestDrainedRunnerRestartedStaysDrained: the drain is the supervisor's
// record, not the runner process's: a drained runner restarted by its
// process manager is drained again at its first heartbeat, and takes no
// work.
func TestDrainedRunnerRestartedStaysDrained(t *testing.T) {
	s := newStack(t)
	s.startFront()
	runner := s.startRunner("runner-a")
	s.waitDrained("runner-a", false) // heard by the supervisor: only such a runner may be drained
	require.Equal(t, http.StatusAccepted, post(t, s.url("/v1/runners/runner-a/drain")))
	first := s.waitDrained("runner-a", true)

	runner.stop(t)
	s.startRunner("runner-a")
	require.Eventually(t, func() bool {
		boot, ok := s.drainedAs("runner-a", true)
		return ok && boot != first
	}, 30*time.Second, 50*time.Millisecond, "the new incarnation says it is drained")
	ids := []string{request(t, s.client, fmtReq("not on the restarted runner", 64, 64, 1, "")).JobID}
	s.requireStillQueued("runner-a", 4, ids...)
	s.startRunner("runner-b")
	require.Equal(t, "runner-b", waitCompleted(t, s, ids[0], time.Minute).Runner)
}

// TestRestartVoidsAPendingReload: a reload ordered to a runner process
// that never carried it out (frozen, then killed) is void for the runner's
// next incarnation, which loaded its models afresh: it is healthy from its
// first heartbeat and takes work, and the order is forgotten.
func TestRestartVoidsAPendingReload(t *testing.T) {
	s := newStack(t, "CYBERIMAGE_CHECK_INTERVAL=1s")
	s.startFront()
	frozen := s.startRunner("runner-1")
	s.waitDrained("runner-1", false) // heard by the supervisor
	require.NoError(t, syscall.Kill(frozen.cmd.Process.Pid, syscall.SIGSTOP))
	require.Equal(t, http.StatusAccepted, post(t, s.url("/v1/runners/runner-1/reload")), "ordered while still taken for alive")
	frozen.kill()

	sup, _ := s.nats.ConnectAs(t, natsauth.Supervisor)
	beats, err := sup.SubscribeSync(bus.HeartbeatSubject("runner-1"))
	require.NoError(t, err)
	defer beats.Unsubscribe()
	s.startRunner("runner-1")
	msg, err := beats.NextMsg(30 * time.Second)
	require.NoError(t, err)
	hb, err := bus.DecodeHeartbeat(msg.Data)
	require.NoError(t, err)
	health := ""
	require.Eventually(t, func() bool {
		var st statusapi.Status
		if s.getJSON("/status", &st) != http.StatusOK {
			return false
		}
		for _, r := range st.Runners {
			if r.Runner == "runner-1" && r.Boot == hb.Boot {
				health = r.Health
				return true
			}
		}
		return false
	}, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, "healthy", health, "the new incarnation is healthy at once, not unhealthy for its predecessor's order")
	require.Eventually(t, func() bool {
		var page struct {
			History *struct {
				ReloadOrder string `json:"reload_order"`
			} `json:"history"`
		}
		return s.getJSON("/v1/runners/runner-1", &page) == http.StatusOK && (page.History == nil || page.History.ReloadOrder == "")
	}, time.Minute, 100*time.Millisecond, "the leader forgets the void order")
	waitCompleted(t, s, request(t, s.client, fmtReq("after the restart", 64, 64, 1, "")).JobID, time.Minute)
}
