package e2e

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/natsauth"
	"cyberimage/shared/testenv"
)

// TestAClientCannotSteerOrSpy: what a user holding only a client's
// credentials tried against the running services. The confused deputy (a
// request whose reply subject names a completed job's record, the leader
// lease, the archive checkpoint, the dead letters or the work subjects)
// is made a job but answered nowhere: the completed record keeps its
// status, images and revision, the lease its holder. The spy on _INBOX.>
// is refused and hears nothing of the runners' deliveries, the
// supervisor's record feed or other clients' answers while jobs run.
func TestAClientCannotSteerOrSpy(t *testing.T) {
	s := newStack(t)
	s.startAll("runner-1")
	ctx := context.Background()

	done := request(t, s.client, fmtReq("a finished job", 64, 64, 1, ""))
	before := s.waitEnded(1, time.Minute)[done.JobID]
	require.Equal(t, job.StatusCompleted, before.Status)
	_, rev, err := s.store.Get(ctx, done.JobID)
	require.NoError(t, err)
	leases, err := s.js.KeyValue(ctx, bus.BucketLeases)
	require.NoError(t, err)
	leader, err := leases.Get(ctx, "supervisor-leader")
	require.NoError(t, err)

	// The attacker: client creds of its own, plus a spy connection.
	violations := make(testenv.Violations, 64)
	attacker, _ := s.nats.ConnectAsIdentity(t, natsauth.Client, "mallory", nats.ErrorHandler(violations.Note))
	spy, err := attacker.SubscribeSync("_INBOX.>")
	require.NoError(t, err) // refused asynchronously, below
	targets := []string{bus.RecordSubject(done.JobID), "$KV." + bus.BucketLeases + ".supervisor-leader",
		"$KV." + bus.BucketSupervisor + ".archive-revision", bus.DLQSubject("demo", done.JobID), bus.JobSubject("demo", "forged"),
		bus.InboxPrefix("runner", "runner-1") + ".x", bus.InboxPrefix("supervisor", "supervisor") + ".x"}
	for i, reply := range targets {
		require.NoError(t, attacker.PublishMsg(&nats.Msg{Subject: bus.SubjectRequests, Reply: reply,
			Data: []byte(fmtReq("deputy "+string(rune('a'+i)), 64, 64, 1, ""))}))
	}
	require.NoError(t, attacker.Flush())
	// Other traffic goes on meanwhile: a client's request and answer, a
	// runner's delivery, the supervisor's watch of every record.
	other := request(t, s.client, fmtReq("someone else's job", 64, 64, 1, ""))
	recs := s.waitEnded(2+len(targets), time.Minute)
	require.Equal(t, job.StatusCompleted, recs[other.JobID].Status)

	select {
	case v := <-violations:
		require.Contains(t, v, "_INBOX.>")
	case <-time.After(5 * time.Second):
		t.Fatal("the server did not refuse the spy's subscription to _INBOX.>")
	}
	if m, err := spy.NextMsg(200 * time.Millisecond); err == nil {
		t.Fatalf("the spy heard %s: %s", m.Subject, m.Data)
	}

	after, rev2, err := s.store.Get(ctx, done.JobID)
	require.NoError(t, err)
	require.Equal(t, rev, rev2, "the completed record was written")
	require.Equal(t, job.StatusCompleted, after.Status)
	require.Equal(t, before.Images, after.Images)
	still, err := leases.Get(ctx, "supervisor-leader")
	require.NoError(t, err)
	require.Equal(t, string(leader.Value()), string(still.Value()), "the lease changed hands")
	dlq, err := s.js.Stream(ctx, bus.StreamDLQ)
	require.NoError(t, err)
	info, err := dlq.Info(ctx)
	require.NoError(t, err)
	require.Zero(t, info.State.Msgs, "nothing was dead-lettered")
	require.Zero(t, s.jobsInStream())
	s.requireCompletedOnce(recs)
}

// TestForgedEventsDoNotHideASilentRunner: another runner's credentials
// publish progress events for a silent runner's delivery, steps moving,
// every 200 ms; the silence rule reads progress from the holder's own
// heartbeats, so the job is still taken away as silent and completes on a
// healthy runner. The forger cannot send the holder's heartbeat either.
func TestForgedEventsDoNotHideASilentRunner(t *testing.T) {
	s := newFastStack(t, "CYBERIMAGE_MAX_STALLED_TIME=10m", "CYBERIMAGE_MAX_SILENT_TIME=2s")
	ev := s.startAll("runner-silent", "CYBERIMAGE_FAULT_HANG_PROMPT=QUIET")
	r := s.requestUntil(ev, "runner-silent", 1, fmtReq("QUIET please", 64, 64, 1, ""))
	held, _, err := s.store.Get(context.Background(), r.JobID)
	require.NoError(t, err)

	violations := make(testenv.Violations, 8)
	forger, _ := s.nats.ConnectAsIdentity(t, natsauth.Runner, "runner-forger", nats.ErrorHandler(violations.Note))
	require.NoError(t, forger.Publish(bus.HeartbeatSubject("runner-silent"), []byte(`{"runner":"runner-silent","jobs":[]}`)))
	require.NoError(t, forger.Flush())
	select {
	case v := <-violations:
		require.Contains(t, v, bus.HeartbeatSubject("runner-silent"))
	case <-time.After(5 * time.Second):
		t.Fatal("the server let a runner publish another runner's heartbeat")
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for step := 2; ; step++ {
			e := bus.ProgressEvent{JobID: r.JobID, Status: job.StatusProcessing, Step: step, TotalSteps: 1000,
				Runner: "runner-silent", Attempt: 1, Delivery: held.Delivery.Token(), At: time.Now().UTC()}
			data, _ := json.Marshal(e)
			_ = forger.Publish(bus.EventSubject(r.JobID), data)
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	s.startRunner("runner-healthy")
	rec := s.completedOn("runner-healthy", r.JobID, time.Minute)
	require.Len(t, rec.Recoveries, 1)
	require.Contains(t, rec.Recoveries[0].Reason, "silent")
}
