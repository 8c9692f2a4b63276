package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/madmin-go/v3"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/objectstore"
	"cyberimage/shared/testenv"
)

// TestMinIONodeLoss: 40 jobs on a stack whose S3 is a distributed MinIO of
// 4 nodes at EC:2, while the node every service reaches first is killed
// -9 a quarter of the way through; submitting goes on. Every job must end
// completed exactly once, without a redelivery, its images readable with
// the node still down, and no service may restart. The node then comes
// back and a job submitted after that completes too.
//
// The node dies between two uploads, not during one: MinIO keeps the lock
// of an object a killed node was committing on the other nodes until it
// expires (1 to 2 minutes, fixed in MinIO), and a retried upload of that
// very object waits for it. That costs time, not jobs (measured in the
// README); a test that waits it out cannot run in seconds.
func TestMinIONodeLoss(t *testing.T) {
	const jobs = 40
	m := testenv.StartMinIOCluster(t, 4)
	requireParity(t, m.Config, 2)
	s := newStackWith(t, testenv.StartNATSWithAuth(t), m.MinIO())
	services := []*proc{s.startSupervisor(), s.startIngest(), s.startRunner("runner-1"), s.startRunner("runner-2")}
	var retries atomic.Int32
	sub, err := s.nc.Subscribe(bus.SubjectEventsAll, func(msg *nats.Msg) {
		var e bus.ProgressEvent
		if json.Unmarshal(msg.Data, &e) == nil && strings.HasPrefix(e.Message, "retrying") && retries.Add(1) <= 3 {
			t.Logf("%s %s: %s", e.At.Format("15:04:05.000"), e.Runner, e.Message)
		}
	})
	require.NoError(t, err)
	defer sub.Unsubscribe()

	start := time.Now()
	var killed time.Time
	pace := time.NewTicker(50 * time.Millisecond)
	defer pace.Stop()
	for i := range jobs {
		r := request(t, s.client, fmtReq(fmt.Sprintf("minio loss %d", i), 64, 64, 1+i%2, fmt.Sprintf(`,"request_id":"minio-loss-%d"`, i)))
		require.NotEmpty(t, r.JobID, "request %d refused: %+v", i, r.Error)
		if i == jobs/4 {
			// Every service has connections open to node 0 and none is
			// writing: the next requests meet a dead node.
			require.Eventually(t, func() bool { return s.completions.total() == i+1 }, time.Minute, 20*time.Millisecond)
			m.Kill(0)
			killed = time.Now()
			t.Logf("%.1fs: killed %s, the node every service dials first", time.Since(start).Seconds(), m.Addr(0))
		}
		// A steady stream, not a burst: jobs keep arriving through the loss.
		<-pace.C
	}

	recs := s.waitEnded(jobs, time.Minute)
	// Images read with the node still down.
	o := tally(t, s, recs, "minio-loss", jobs, func(rec job.Record) { checkImages(t, s, rec) })
	first, longest := pausesAfter(s.completions, killed)
	t.Logf("minio node loss: %d jobs, 1 of 4 nodes killed -9; first completion %s after the kill, longest pause in completions %s (after the kill %s); upload retries %d; %s",
		jobs, first.Round(time.Millisecond), s.completions.longestPause().Round(time.Millisecond),
		longest.Round(time.Millisecond), retries.Load(), o)
	requireStillRunning(t, services...)
	o.requireNoneLost(t)
	require.Zero(t, o.redelivered, "a node's loss must not cost a delivery")

	m.Start(0)
	t.Logf("%.1fs: %s is back", time.Since(start).Seconds(), m.Addr(0))
	after := request(t, s.client, fmtReq("after the node came back", 64, 64, 1, ""))
	recs = s.waitEnded(jobs+1, time.Minute)
	require.Equal(t, job.StatusCompleted, recs[after.JobID].Status)
	checkImages(t, s, recs[after.JobID])
	requireAllCompletedAndDrained(t, s, jobs+1)
}

// requireParity checks the deployment's standard storage class parity, the
// number of nodes it may lose (minus one, for writes) that the docs state.
func requireParity(t *testing.T, root objectstore.Config, want int) {
	t.Helper()
	transport, err := objectstore.Transport(root)
	require.NoError(t, err)
	admin, err := madmin.NewWithOptions(root.Host(), &madmin.Options{
		Creds: credentials.NewStaticV4(root.AccessKey, root.SecretKey, ""), Transport: transport})
	require.NoError(t, err)
	info, err := admin.StorageInfo(context.Background())
	require.NoError(t, err)
	require.Equal(t, want, info.Backend.StandardSCParity, "EC parity of the deployment")
	require.Len(t, info.Disks, 4)
}

// pausesAfter reads the completion times around a moment: how long after
// it the first completion came, and the longest gap between completions
// from the last one before it on.
func pausesAfter(c *completionWatch, at time.Time) (first, longest time.Duration) {
	c.caughtUp()
	c.mu.Lock()
	times := slices.Clone(c.at)
	c.mu.Unlock()
	slices.SortFunc(times, time.Time.Compare)
	prev := time.Time{}
	for _, done := range times {
		if !done.Before(at) && first == 0 {
			first = done.Sub(at)
		}
		if !prev.IsZero() && !done.Before(at) {
			longest = max(longest, done.Sub(prev))
		}
		prev = done
	}
	return first, longest
}
