package e2e

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestLostWorkIsReconciled: a stale ack deletes a job's message from the
// work queue while its runner works on it (the server matches acks by
// stream sequence), then that runner dies. Nothing would ever deliver the
// job again; the reconciler finds the record without its message and
// re-queues it.
func TestLostWorkIsReconciled(t *testing.T) {
	s := newFastStack(t, "CYBERIMAGE_MAX_STALLED_TIME=10m")
	ev := s.startFront()
	doomed := s.startRunner("runner-doomed")
	r := s.requestUntil(ev, "runner-doomed", 1, fmtReq("lose my message", 1024, 1024, 4, `,"steps":50`))
	rec := s.record(r.JobID)
	// A zombie's ack, as a separate connection can send it.
	require.NoError(t, s.nc.Publish(rec.Delivery.AckSubject, []byte("+ACK")))
	require.NoError(t, s.nc.Flush())
	require.Eventually(t, func() bool { return s.jobsInStream() == 0 }, 5*time.Second, 20*time.Millisecond, "the stray ack removed the message")
	doomed.kill()
	s.startRunner("runner-heir")

	got := s.completedOn("runner-heir", r.JobID, time.Minute)
	require.NotEmpty(t, got.Recoveries)
	require.Contains(t, got.Recoveries[len(got.Recoveries)-1].Reason, "lost")
	checkImages(t, s, got)
}
