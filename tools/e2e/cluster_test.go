package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/bus"
	"cyberimage/shared/testenv"
)

// TestClusterChaos: 200 jobs on a three-node JetStream cluster at R3 while
// the node leading CYBERIMAGE_JOBS is killed -9 (and started again), then
// the node leading the job records' bucket, which comes back with its store
// wiped. No job may be lost, completed twice or failed; no service process
// may restart; /status and /api/queue must agree with KV at the end.
func TestClusterChaos(t *testing.T) {
	const jobs = 200
	c := testenv.StartCluster(t, 3)
	// Streams and buckets first, as a deployment's provision step makes
	// them: bus.Provision waits out a meta leader that cannot yet place R3
	// streams on every node (the "no suitable peers for placement, peer
	// offline" a fresh clone's CI once died of). newStackOn's own Ensure
	// then only updates them and adds consumers, which need no placement.
	_, admin := c.NATS().Connect(t)
	r3 := bus.DefaultSettings()
	r3.Replicas = 3
	require.NoError(t, bus.ProvisionWith(context.Background(), admin, bus.ProvisionParams{Settings: r3,
		Progress: func(r bus.ProvisionRetry) { t.Logf("provision %s", r) }}))
	s := newStackOn(t, c.NATS(), append(append([]string{}, fastWatchdog...),
		"CYBERIMAGE_REPLICAS=3", "CYBERIMAGE_MAX_STALLED_TIME=20s", "CYBERIMAGE_ABANDON_COOLOFF=1s")...)
	services := s.startServices("runner-1", "runner-2")

	// Request-reply with a request_id, resent until ingest answers, as the
	// contract tells clients: a core publish in flight to a dying node is
	// lost before any stream stores it.
	published := make(chan struct{})
	stop := make(chan struct{})
	defer close(stop)
	var answeredCount, unanswered atomic.Int32
	go func() {
		defer close(published)
		for i := range jobs {
			payload := fmtReq(fmt.Sprintf("cluster %d", i), 64, 64, 1, fmt.Sprintf(`,"request_id":"cluster-%d"`, i))
			answered := false
			for attempt := 0; attempt < 30 && !answered; attempt++ {
				select {
				case <-stop:
					return
				default:
				}
				msg, err := s.client.Request(bus.SubjectRequests, []byte(payload), 2*time.Second)
				answered = err == nil && strings.Contains(string(msg.Data), `"job_id"`)
			}
			if answered {
				answeredCount.Add(1)
			} else {
				unanswered.Add(1)
			}
			time.Sleep(80 * time.Millisecond)
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	leaderOf := func(stream string) int {
		for {
			// Per attempt: a request that went to a node just killed gets
			// no answer, and would wait for the whole test's deadline.
			attempt, cancelAttempt := context.WithTimeout(ctx, 2*time.Second)
			i, err := c.Leader(attempt, s.js, stream)
			cancelAttempt()
			if err == nil {
				return i
			}
			require.NoError(t, ctx.Err(), "leader of %s: %v", stream, err)
			time.Sleep(200 * time.Millisecond)
		}
	}
	time.Sleep(3 * time.Second)
	jobsLeader := leaderOf(bus.StreamJobs)
	c.Kill(jobsLeader)
	t.Logf("%.1fs: killed %s, leader of %s", time.Since(start).Seconds(), c.Nodes[jobsLeader].Name, bus.StreamJobs)
	time.Sleep(4 * time.Second)
	c.Start(jobsLeader)
	t.Logf("%.1fs: %s is back", time.Since(start).Seconds(), c.Nodes[jobsLeader].Name)
	time.Sleep(2 * time.Second)
	kvLeader := leaderOf("KV_" + bus.BucketJobs)
	c.Kill(kvLeader)
	t.Logf("%.1fs: killed %s, leader of KV_%s", time.Since(start).Seconds(), c.Nodes[kvLeader].Name, bus.BucketJobs)
	time.Sleep(4 * time.Second)
	c.Wipe(kvLeader)
	c.Start(kvLeader)
	t.Logf("%.1fs: %s is back with its store wiped", time.Since(start).Seconds(), c.Nodes[kvLeader].Name)

	// Bounded: requests unanswered for minutes are the failure to report,
	// not a hang until the test binary's timeout, which shows no logs.
	select {
	case <-published:
	case <-time.After(4 * time.Minute):
		t.Fatalf("publishing stuck: %d requests answered, %d given up on, after %.0fs",
			answeredCount.Load(), unanswered.Load(), time.Since(start).Seconds())
	}
	require.Zero(t, unanswered.Load(), "requests never answered by ingest")
	recs := s.waitEnded(jobs, 3*time.Minute)
	o := tally(t, s, recs, "cluster", jobs, nil)
	t.Logf("cluster chaos: %d jobs, 2 node kills (one wiped), longest pause in completions %s; %s",
		jobs, s.completions.longestPause().Round(time.Millisecond), o)
	requireStillRunning(t, services...)
	o.requireNoneLost(t)
	requireAllCompletedAndDrained(t, s, jobs)
}
