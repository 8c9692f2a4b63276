package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
)

// TestSupervisorRestartRebuildsTracking: the supervisor is killed while a
// job hangs and started again; it rebuilds its view from KV and the
// consumer, and the stalled job is still recovered.
func TestSupervisorRestartRebuildsTracking(t *testing.T) {
	s := newFastStack(t)
	sup := s.startSupervisor()
	s.startIngest()
	ev := collectEvents(t, s.nc)
	s.startRunner("runner-hung", "CYBERIMAGE_FAULT_HANG_PROMPT=HANG")
	r := s.requestUntil(ev, "runner-hung", 1, fmtReq("HANG while the supervisor restarts", 128, 128, 1, ""))
	sup.kill()
	s.startRunner("runner-healthy")
	// The scenario, not a wait for a result: the supervisor stays down a
	// while, so the heartbeats and progress sent meanwhile are lost to it
	// and the restarted one must rebuild its view from KV and the consumer.
	time.Sleep(time.Second)
	s.startSupervisor()

	rec := s.completedOn("runner-healthy", r.JobID, time.Minute)
	require.Len(t, rec.Recoveries, 1, "recovered by the restarted supervisor")
}

// TestTwoSupervisorsOnlyOneActs: two replicas serve status, exactly one
// leads and recovers; when it dies the other takes over.
func TestTwoSupervisorsOnlyOneActs(t *testing.T) {
	s := newFastStack(t)
	addrB := freeAddr(t)
	supA := s.startSupervisorAt("sup-a", s.supervisorAddr)
	supB := s.startSupervisorAt("sup-b", addrB)
	s.startIngest()
	ev := collectEvents(t, s.nc)
	var leader, follower string
	require.Eventually(t, func() bool {
		a, b := statusAt(t, s.supervisorAddr), statusAt(t, addrB)
		if a.Supervisor.Leader == b.Supervisor.Leader {
			return false
		}
		leader, follower = s.supervisorAddr, addrB
		if b.Supervisor.Leader {
			leader, follower = addrB, s.supervisorAddr
		}
		return a.Supervisor.Holder == b.Supervisor.Holder
	}, 15*time.Second, 100*time.Millisecond, "exactly one leader, known to both")

	s.startRunner("runner-hung", "CYBERIMAGE_FAULT_HANG_PROMPT=HANG")
	first := s.requestUntil(ev, "runner-hung", 1, fmtReq("HANG one", 64, 64, 1, ""))
	healthy := s.startRunner("runner-healthy")
	rec := s.waitEnded(1, time.Minute)[first.JobID]
	require.Equal(t, job.StatusCompleted, rec.Status)
	require.Len(t, rec.Recoveries, 1, "recovered once, not by both")
	require.NotEmpty(t, statusAt(t, leader).Recoveries)
	require.Empty(t, statusAt(t, follower).Recoveries, "the follower did not act")

	// The leader dies; the follower takes over and acts.
	if leader == s.supervisorAddr {
		supA.kill()
	} else {
		supB.kill()
	}
	require.Eventually(t, func() bool { return statusAt(t, follower).Supervisor.Leader }, 20*time.Second, 100*time.Millisecond)
	// Only the hung runner is up when the second job comes, so it takes it.
	healthy.stop(t)
	second := s.requestUntil(ev, "runner-hung", 1, fmtReq("HANG two", 64, 64, 1, fmt.Sprintf(`,"seed":%d`, 2)))
	s.startRunner("runner-healthy-2")
	rec2 := s.waitEnded(2, time.Minute)[second.JobID]
	require.Equal(t, job.StatusCompleted, rec2.Status)
	require.NotEmpty(t, statusAt(t, follower).Recoveries)

	// The stall history is in KV, not in the dead leader's memory: the
	// runner's second stall within the cooldown, judged by the new leader,
	// is an emergency, and the runner carries out the reload it orders.
	var emergency bool
	for _, r := range statusAt(t, follower).Recoveries {
		emergency = emergency || (r.Kind == "emergency" && r.Runner == "runner-hung")
	}
	require.True(t, emergency, "the new leader ordered a reload after the second stall")
	hb, err := s.nc.SubscribeSync(bus.HeartbeatSubject("runner-hung"))
	require.NoError(t, err)
	defer hb.Unsubscribe()
	waitHeartbeat(t, hb, 15*time.Second, func(h bus.Heartbeat) bool { return h.LastReload != "" && !h.Quarantined },
		"the runner reports the reload done")
}
