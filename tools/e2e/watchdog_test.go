package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/statusapi"
)

// Compressed watchdog timings: the same code as production, seconds for
// minutes.
var fastWatchdog = []string{
	"CYBERIMAGE_ACK_WAIT=2s",
	"CYBERIMAGE_MAX_STALLED_TIME=3s",
	"CYBERIMAGE_MAX_SILENT_TIME=0s",
	"CYBERIMAGE_CHECK_INTERVAL=250ms",
	"CYBERIMAGE_RECOVERY_COOLDOWN=1m",
	"CYBERIMAGE_RECOVERY_NAK_DELAY=200ms",
	"CYBERIMAGE_RECONCILE_INTERVAL=1s",
	"CYBERIMAGE_ABANDON_COOLOFF=5s",
	"CYBERIMAGE_SNAPSHOT_INTERVAL=1s",
}

// newFastStack makes a stack with the compressed watchdog timings.
func newFastStack(t *testing.T, extra ...string) *stack {
	return newStack(t, append(append([]string{}, fastWatchdog...), extra...)...)
}

// events collects progress events of every job.
type events struct {
	mu  sync.Mutex
	all []bus.ProgressEvent
	ch  chan bus.ProgressEvent
}

func collectEvents(t testing.TB, nc *nats.Conn) *events {
	t.Helper()
	ev := &events{ch: make(chan bus.ProgressEvent, 4096)}
	onEvents(t, nc, func(e bus.ProgressEvent) {
		ev.mu.Lock()
		ev.all = append(ev.all, e)
		ev.mu.Unlock()
		select {
		case ev.ch <- e:
		default:
		}
	})
	return ev
}

func (ev *events) by(runner, jobID string, status job.Status) int {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	n := 0
	for _, e := range ev.all {
		if e.Runner == runner && e.JobID == jobID && e.Status == status {
			n++
		}
	}
	return n
}

// ackLog records every acknowledgement sent for job deliveries, by
// delivery token, as the supervisor sees them.
type ackLog struct {
	mu   sync.Mutex
	acks []ackSeen
}

type ackSeen struct {
	subject string
	payload string
	at      time.Time
}

func collectAcks(t *testing.T, nc *nats.Conn) *ackLog {
	t.Helper()
	l := &ackLog{}
	sub, err := nc.Subscribe(bus.SubjectAcks, func(m *nats.Msg) {
		l.mu.Lock()
		l.acks = append(l.acks, ackSeen{m.Subject, string(m.Data), time.Now()})
		l.mu.Unlock()
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return l
}

// on lists acks sent on deliveries of stream sequence seq with the given
// delivery count, after a moment.
func (l *ackLog) on(seq uint64, delivered int, after time.Time) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	prefix := fmt.Sprintf("$JS.ACK.%s.%s.%d.%d.", bus.StreamJobs, bus.RunnerConsumer("demo"), delivered, seq)
	for _, a := range l.acks {
		if len(a.subject) > len(prefix) && a.subject[:len(prefix)] == prefix && a.at.After(after) {
			out = append(out, a.payload)
		}
	}
	return out
}

// statusAt is the supervisor at addr's GET /status.
func statusAt(t *testing.T, addr string) statusapi.Status {
	t.Helper()
	var st statusapi.Status
	resp, err := http.Get("http://" + addr + "/status")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&st))
	return st
}

// TestHungRunnerIsRecovered: a runner keeps heartbeating while its
// inference hangs. After max_stalled_time the supervisor takes the job
// away; another runner completes it; the hung runner never acks it.
func TestHungRunnerIsRecovered(t *testing.T) {
	s := newFastStack(t)
	ev := s.startAll("runner-hung", "CYBERIMAGE_FAULT_HANG_PROMPT=HANG", "CYBERIMAGE_FAULT_HANG_STEP=2")
	r := s.requestUntil(ev, "runner-hung", 2, fmtReq("HANG at step two", 256, 256, 1, ""))
	s.startRunner("runner-healthy")

	rec := s.completedOn("runner-healthy", r.JobID, time.Minute)
	require.Equal(t, 2, rec.Attempts)
	require.Len(t, rec.Recoveries, 1)
	require.Equal(t, "runner-hung", rec.Recoveries[0].Runner)
	require.Contains(t, rec.Recoveries[0].Reason, "max_stalled_time")
	require.Zero(t, ev.by("runner-hung", r.JobID, "completed"), "the hung runner never completed it")
	checkImages(t, s, rec)
	require.Zero(t, s.jobsInStream())

	st := statusAt(t, s.supervisorAddr)
	require.NotEmpty(t, st.Recoveries)
	require.Equal(t, "stalled", st.Recoveries[0].Kind)
	require.Equal(t, r.JobID, st.Recoveries[0].JobID)
	latency := rec.CompletedAt.Sub(rec.Recoveries[0].At)
	t.Logf("recovery latency (stall detected → completed elsewhere): %s; delivery start → completed: %s; max_stalled_time 3s + check_interval 250ms",
		latency.Round(time.Millisecond), rec.CompletedAt.Sub(*rec.StartedAt).Round(time.Millisecond))
}

// TestStuckInferenceExitsRunner: an inference that ignores termination
// makes the runner exit non-zero after the abandon timeout, so its process
// manager can restart it; the job completes elsewhere.
func TestStuckInferenceExitsRunner(t *testing.T) {
	s := newFastStack(t)
	ev := s.startFront()
	stuck := s.startRunner("runner-stuck", "CYBERIMAGE_FAULT_HANG_PROMPT=WEDGE", "CYBERIMAGE_FAULT_HANG_STUCK=true",
		"CYBERIMAGE_ABANDON_TIMEOUT=1s")
	r := s.requestUntil(ev, "runner-stuck", 1, fmtReq("WEDGE the gpu", 128, 128, 1, ""))
	s.startRunner("runner-healthy")
	select {
	case <-stuck.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("the runner with a wedged inference did not exit")
	}
	require.Equal(t, 3, stuck.cmd.ProcessState.ExitCode())
	s.completedOn("runner-healthy", r.JobID, time.Minute)
}

// TestZombieRunner: a runner frozen (SIGSTOP) mid-job loses the job to
// JetStream's redelivery; when it resumes it must not ack, must not change
// the record, and its stray acks must not lose any job. Two variants: it
// resumes after the other runner finished, and while it is still working.
func TestZombieRunner(t *testing.T) {
	for _, variant := range []string{"resumes after", "resumes during"} {
		t.Run(variant, func(t *testing.T) {
			s := newFastStack(t, "CYBERIMAGE_MAX_STALLED_TIME=10m")
			ev := s.startFront()
			acks := collectAcks(t, s.nc)
			zombie := s.startRunner("runner-zombie")
			r := s.requestUntil(ev, "runner-zombie", 2, fmtReq("freeze me", 1024, 1024, 4, `,"steps":50`))
			require.NoError(t, syscall.Kill(zombie.cmd.Process.Pid, syscall.SIGSTOP))
			frozen, _, err := s.store.Get(context.Background(), r.JobID)
			require.NoError(t, err)
			seq := frozen.Delivery.StreamSeq
			s.startRunner("runner-other")

			if variant == "resumes during" {
				waitStep(t, ev.ch, r.JobID, "runner-other", 2)
			} else {
				require.Eventually(t, func() bool {
					rec, _, err := s.store.Get(context.Background(), r.JobID)
					return err == nil && rec.Status == job.StatusCompleted
				}, time.Minute, 50*time.Millisecond)
			}
			resumed := time.Now()
			require.NoError(t, syscall.Kill(zombie.cmd.Process.Pid, syscall.SIGCONT))
			// Let the zombie run on for a while: more work goes through, so a
			// stray ack deleting someone else's message would show.
			for i := range 5 {
				publish(t, s.nc, fmtReq(fmt.Sprintf("after the zombie woke %d", i), 64, 64, 1, ""))
			}
			recs := s.waitEnded(6, time.Minute)
			// The scenario, not a wait for a result: the zombie runs on for
			// two of its keep-alive periods, the window in which a stray ack or
			// write from it would show below.
			time.Sleep(3 * time.Second)
			s.requireCompletedOnce(recs)
			require.Equal(t, "runner-other", recs[r.JobID].Runner, "the zombie did not overwrite the record")
			require.Zero(t, ev.by("runner-zombie", r.JobID, "completed"))
			require.Empty(t, acks.on(seq, 1, resumed), "the zombie sent nothing on its old delivery after resuming")
			require.Zero(t, s.jobsInStream())
		})
	}
}

// TestPoisonJobDeadLettered: a job that stalls on every runner ends failed
// after MaxDeliver with its reason, lands in the DLQ, does not hold up the
// jobs behind it, and can be re-queued by an operator.
func TestPoisonJobDeadLettered(t *testing.T) {
	s := newFastStack(t, "CYBERIMAGE_MAX_DELIVER=3", "CYBERIMAGE_ABANDON_COOLOFF=100ms")
	s.startServices()
	poisoned := []*proc{
		s.startRunner("runner-1", "CYBERIMAGE_FAULT_HANG_PROMPT=POISON"),
		s.startRunner("runner-2", "CYBERIMAGE_FAULT_HANG_PROMPT=POISON"),
	}
	poison := request(t, s.client, fmtReq("POISON pill", 64, 64, 1, ""))
	var others []string
	for i := range 6 {
		others = append(others, request(t, s.client, fmtReq(fmt.Sprintf("behind the poison %d", i), 64, 64, 1, "")).JobID)
	}
	recs := s.waitEnded(7, 2*time.Minute)
	for _, id := range others {
		require.Equal(t, job.StatusCompleted, recs[id].Status, "jobs behind the poison are not held up")
	}
	failed := recs[poison.JobID]
	require.Equal(t, job.StatusFailed, failed.Status)
	require.Equal(t, job.CodeRetriesExhausted, failed.Error.Code)
	require.Contains(t, failed.Error.Message, "3 deliveries")
	require.Contains(t, failed.Error.Message, "max_stalled_time")
	require.Len(t, failed.Recoveries, 3)

	dlq, err := s.js.Stream(context.Background(), bus.StreamDLQ)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		info, err := dlq.Info(context.Background())
		return err == nil && info.State.Msgs == 1
	}, 10*time.Second, 100*time.Millisecond)
	msg, err := dlq.GetLastMsgForSubject(context.Background(), bus.DLQSubject("demo", poison.JobID))
	require.NoError(t, err)
	require.Equal(t, poison.JobID, msg.Header.Get(bus.HeaderJobID))
	require.Contains(t, msg.Header.Get(bus.HeaderReason), "max_stalled_time")
	require.Zero(t, s.jobsInStream(), "the dead message left the work queue")
	require.EqualValues(t, 1, statusAt(t, s.supervisorAddr).Queue.Dead)

	// The operator fixes the runners and re-queues the job.
	for _, p := range poisoned {
		p.stop(t)
	}
	s.startRunner("runner-fixed")
	require.Equal(t, http.StatusAccepted, post(t, s.url("/v1/jobs/"+poison.JobID+"/retry")))
	require.Eventually(t, func() bool {
		rec, _, err := s.store.Get(context.Background(), poison.JobID)
		return err == nil && rec.Status == job.StatusCompleted
	}, time.Minute, 100*time.Millisecond)
	rec, _, _ := s.store.Get(context.Background(), poison.JobID)
	require.Equal(t, 1, rec.Attempts, "a re-queue starts a fresh attempt count")
	require.Equal(t, 1, rec.Requeues)
	s.requireCompletedOnce(map[string]job.Record{poison.JobID: rec})
	require.Equal(t, http.StatusConflict, post(t, s.url("/v1/jobs/"+others[0]+"/retry")), "a completed job is never re-run")
}

// TestSilentRunnerIsRecovered: the silence rule. The runner keeps sending
// in-progress acks but no progress event for max_silent_time, long before
// max_stalled_time: the job is taken away for silence and completes
// elsewhere.
func TestSilentRunnerIsRecovered(t *testing.T) {
	s := newFastStack(t, "CYBERIMAGE_MAX_STALLED_TIME=10m", "CYBERIMAGE_MAX_SILENT_TIME=2s")
	ev := s.startAll("runner-silent", "CYBERIMAGE_FAULT_HANG_PROMPT=QUIET")
	r := s.requestUntil(ev, "runner-silent", 1, fmtReq("QUIET please", 64, 64, 1, ""))
	s.startRunner("runner-healthy")
	rec := s.completedOn("runner-healthy", r.JobID, time.Minute)
	require.Len(t, rec.Recoveries, 1)
	require.Contains(t, rec.Recoveries[0].Reason, "silent")
	require.Contains(t, rec.Recoveries[0].Reason, "max_silent_time")
	require.Equal(t, "silent", statusAt(t, s.supervisorAddr).Recoveries[0].Kind)
}
