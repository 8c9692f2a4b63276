package e2e

import (
	"context"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
)

// TestRunnerLossTakesWorkAtOnce: a runner killed mid-job (kill -9), or
// killed and restarted at once under the same name by its process manager
// (a new incarnation), loses its delivery to the supervisor within seconds
// rather than when AckWait (a minute here) runs out: the job runs again,
// completes exactly once, and its record names the recovery runner_lost.
func TestRunnerLossTakesWorkAtOnce(t *testing.T) {
	for _, variant := range []string{"killed", "restarted"} {
		t.Run(variant, func(t *testing.T) {
			s := newStack(t, "CYBERIMAGE_ACK_WAIT=60s", "CYBERIMAGE_RUNNER_LOST_AFTER=2s")
			ev := s.startFront()
			victim := s.startRunner("runner-victim")
			r := s.requestUntil(ev, "runner-victim", 2, fmtReq("lose my runner", 1024, 1024, 4, `,"steps":50`))
			held := s.record(r.JobID)
			require.NotEmpty(t, held.Delivery.Boot, "the claim names the runner process")
			victim.kill()
			killed := time.Now()
			heir := "runner-heir"
			if variant == "restarted" {
				heir = "runner-victim" // the same name, another process
			}
			s.startRunner(heir)

			// Back to work well before AckWait could have done it.
			require.Eventually(t, func() bool {
				rec, _, err := s.store.Get(context.Background(), r.JobID)
				return err == nil && rec.Delivery != nil && rec.Delivery.Delivered == 2
			}, 30*time.Second, 50*time.Millisecond, "the job did not run again within 30 s of the kill (AckWait is 60 s)")
			t.Logf("%s: running again %.1fs after the kill", variant, time.Since(killed).Seconds())

			rec := s.completedOn(heir, r.JobID, 2*time.Minute)
			require.Equal(t, 2, rec.Attempts)
			require.Len(t, rec.Recoveries, 1)
			require.True(t, strings.HasPrefix(rec.Recoveries[0].Reason, "runner_lost"), rec.Recoveries[0].Reason)
			if variant == "restarted" {
				require.Contains(t, rec.Recoveries[0].Reason, "restarted")
			}
			checkImages(t, s, rec)
			require.Zero(t, s.jobsInStream())
		})
	}
}

// TestFrozenRunnerPastLostThresholdIsFenced: a runner frozen (SIGSTOP) for
// longer than the lost threshold loses its job to another runner; when it
// resumes, its late result is dropped (the record stays the other
// runner's, one completion) and it takes work again.
func TestFrozenRunnerPastLostThresholdIsFenced(t *testing.T) {
	s := newStack(t, "CYBERIMAGE_ACK_WAIT=60s", "CYBERIMAGE_RUNNER_LOST_AFTER=2s")
	ev := s.startFront()
	frozen := s.startRunner("runner-frozen")
	r := s.requestUntil(ev, "runner-frozen", 2, fmtReq("freeze my runner", 1024, 1024, 4, `,"steps":50`))
	require.NoError(t, syscall.Kill(frozen.cmd.Process.Pid, syscall.SIGSTOP))
	s.startRunner("runner-live")
	s.completedOn("runner-live", r.JobID, 2*time.Minute)
	require.NoError(t, syscall.Kill(frozen.cmd.Process.Pid, syscall.SIGCONT))
	// The resumed runner finishes nothing of the old delivery; new work
	// still flows through both.
	for i := range 4 {
		publish(t, s.nc, fmtReq("after the thaw "+string(rune('a'+i)), 64, 64, 1, ""))
	}
	recs := s.waitEnded(5, time.Minute)
	s.requireCompletedOnce(recs)
	require.Equal(t, "runner-live", recs[r.JobID].Runner, "the thawed runner did not overwrite the record")
	require.Zero(t, ev.by("runner-frozen", r.JobID, "completed"))
	require.Zero(t, s.jobsInStream())
}

// TestLostRunnersPrefetchedJobIsHandedBack: a runner killed while a second
// job waits in its prefetch buffer (delivered to it, never claimed, so its
// record is still queued) loses that one at once too: its last heartbeat
// named it, and the supervisor NAKs it rather than wait for AckWait.
func TestLostRunnersPrefetchedJobIsHandedBack(t *testing.T) {
	s := newStack(t, "CYBERIMAGE_ACK_WAIT=60s", "CYBERIMAGE_RUNNER_LOST_AFTER=2s")
	ev := s.startFront()
	beats, err := s.nc.SubscribeSync(bus.HeartbeatSubject("runner-victim"))
	require.NoError(t, err)
	// The first job hangs on this runner (and only here), holding its one
	// slot, so the second waits in the prefetch buffer until the kill.
	// Both are queued before the runner starts: it takes the first and,
	// as that run begins, prefetches the second.
	running := request(t, s.client, fmtReq("HOLD the slot", 256, 256, 1, `,"steps":50`))
	waiting := request(t, s.client, fmtReq("prefetched when killed", 768, 512, 1, `,"steps":50`))
	victim := s.startRunner("runner-victim", "CYBERIMAGE_PREFETCH=true", "CYBERIMAGE_MAX_BATCH=1", "CYBERIMAGE_FAULT_HANG_PROMPT=HOLD")
	waitStep(t, ev.ch, running.JobID, "runner-victim", 1)
	// Wait until a heartbeat lists the waiting job as held.
	waitHeartbeat(t, beats, 30*time.Second, func(h bus.Heartbeat) bool {
		return slices.ContainsFunc(h.Jobs, func(j bus.HeldJob) bool { return j.JobID == waiting.JobID })
	}, "the runner never prefetched the second job")
	rec := s.record(waiting.JobID)
	require.Equal(t, job.StatusQueued, rec.Status, "prefetched, not claimed: %+v", rec.Delivery)
	victim.kill()
	killed := time.Now()
	s.startRunner("runner-heir")
	require.Eventually(t, func() bool {
		rec, _, err := s.store.Get(context.Background(), waiting.JobID)
		return err == nil && rec.Delivery != nil && rec.Delivery.Runner == "runner-heir"
	}, 30*time.Second, 50*time.Millisecond, "the prefetched job was not running elsewhere 30 s after the kill (AckWait is 60 s)")
	t.Logf("prefetched job claimed elsewhere %.1fs after the kill", time.Since(killed).Seconds())
	s.requireCompletedOnce(s.waitEnded(2, 2*time.Minute), running.JobID, waiting.JobID)
	require.Zero(t, s.jobsInStream())
}
