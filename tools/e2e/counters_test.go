package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
)

// queueCounts is /api/queue's body.
type queueCounts struct {
	Pending, Processing, Completed, Failed, Rejected, Cancelled, Total int
}

func queueAt(t *testing.T, addr string) queueCounts {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/api/queue")
	require.NoError(t, err)
	defer resp.Body.Close()
	var q queueCounts
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&q))
	return q
}

// recountRecords counts the records in KV as /api/queue should.
func recountRecords(s *stack) queueCounts {
	var q queueCounts
	for _, rec := range s.records() {
		switch rec.Status {
		case job.StatusQueued:
			q.Pending++
		case job.StatusProcessing:
			q.Processing++
		case job.StatusCompleted:
			q.Completed++
		case job.StatusFailed:
			q.Failed++
		case job.StatusCancelled:
			q.Cancelled++
		case job.StatusRejected:
			q.Rejected++
			continue
		}
		q.Total++
	}
	return q
}

// TestCountsAgreeWithTheRecordsAcrossRestartsAndLeaderChanges: the
// supervisors keep counts incrementally (no replay of the bucket), so
// after a mixed run, a leader's death, a restart from the saved snapshot
// and more jobs, every replica's /api/queue still equals a recount of the
// records.
func TestCountsAgreeWithTheRecordsAcrossRestartsAndLeaderChanges(t *testing.T) {
	s := newFastStack(t)
	addrB := freeAddr(t)
	supA := s.startSupervisorAt("sup-a", s.supervisorAddr)
	s.startSupervisorAt("sup-b", addrB)
	s.startIngest()
	s.startRunner("runner-1", "CYBERIMAGE_MODELS=demo")
	agree := func(why string, addrs ...string) {
		t.Helper()
		var got map[string]queueCounts
		var want queueCounts
		require.Eventually(t, func() bool {
			want, got = recountRecords(s), map[string]queueCounts{}
			for _, a := range addrs {
				got[a] = queueAt(t, a)
				if got[a] != want {
					return false
				}
			}
			return true
		}, 30*time.Second, 200*time.Millisecond, "%s: /api/queue %+v, records %+v", why, got, want)
	}

	// A mixed run: completed, rejected, failed, failed and retried,
	// cancelled, and one left queued (no runner serves its model).
	var ids []string
	for i := range 5 {
		ids = append(ids, request(t, s.client, fmtReq("count me "+strconv.Itoa(i), 64, 64, 1, "")).JobID)
	}
	for _, bad := range []string{`{"prompt":"bad","width":100,"request_id":"counted-bad-1"}`, `{"prompt":"","request_id":"counted-bad-2"}`} {
		require.NotNil(t, request(t, s.client, bad).Error)
	}
	ctx := context.Background()
	for _, id := range []string{"counted-failed-1", "counted-failed-2"} {
		_, err := s.store.Create(ctx, job.Record{JobID: id, Status: job.StatusFailed, CreatedAt: time.Now().UTC(),
			Spec:  job.Spec{Prompt: "failed", Model: "demo", Width: 64, Height: 64, Steps: 1, Seed: 1, NumImages: 1},
			Error: &job.Failure{Code: "test", Message: "failed for the test"}})
		require.NoError(t, err)
	}
	require.Equal(t, http.StatusAccepted, post(t, s.url("/v1/jobs/counted-failed-1/retry")))
	cancelled := request(t, s.client, fmtReq("cancel me", 64, 64, 1, `,"model":"tiny-sd"`))
	require.Equal(t, http.StatusOK, post(t, s.url("/v1/jobs/"+cancelled.JobID+"/cancel")))
	request(t, s.client, fmtReq("waits", 64, 64, 1, `,"model":"tiny-sd"`))
	for _, id := range append(ids, "counted-failed-1") {
		waitCompleted(t, s, id, time.Minute)
	}
	want := queueCounts{Pending: 1, Completed: 6, Failed: 1, Cancelled: 1, Rejected: 2, Total: 9}
	require.Equal(t, want, recountRecords(s))
	agree("after the mixed run", s.supervisorAddr, addrB)

	// Whichever leads dies; the other leads, more jobs end, and the dead
	// one comes back from the snapshot its peer saved.
	supA.kill()
	for i := range 3 {
		waitCompleted(t, s, request(t, s.client, fmtReq("after the kill "+strconv.Itoa(i), 64, 64, 1, "")).JobID, time.Minute)
	}
	require.Equal(t, http.StatusAccepted, post(t, "http://"+addrB+"/v1/jobs/counted-failed-2/retry"))
	waitCompleted(t, s, "counted-failed-2", time.Minute)
	agree("after the leader change", addrB)
	require.Eventually(t, func() bool { return statusAt(t, addrB).Supervisor.Leader }, 20*time.Second, 100*time.Millisecond)
	waitSnapshot(t, s)
	s.startSupervisorAt("sup-a", s.supervisorAddr)
	agree("after the restart", s.supervisorAddr, addrB)
	require.True(t, strings.Contains(s.serviceLog("sup-a"), "index snapshot loaded"), "the restarted supervisor followed on from a snapshot")
}

// waitSnapshot waits until the leader has saved its view as of the latest
// record revision.
func waitSnapshot(t *testing.T, s *stack) {
	t.Helper()
	js, err := jetstream.New(s.nc)
	require.NoError(t, err)
	ctx := context.Background()
	state, err := js.KeyValue(ctx, bus.BucketSupervisor)
	require.NoError(t, err)
	records, err := js.Stream(ctx, "KV_"+bus.BucketJobs)
	require.NoError(t, err)
	info, err := records.Info(ctx)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		e, err := state.Get(ctx, "index-snapshot")
		if err != nil {
			return false
		}
		var m struct{ Revision uint64 }
		return json.Unmarshal(e.Value(), &m) == nil && m.Revision >= info.State.LastSeq
	}, 20*time.Second, 100*time.Millisecond, "the leader saved its view")
}
