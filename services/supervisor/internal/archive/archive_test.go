package archive

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
	"cyberimage/shared/testenv"
)

// Ended records reach S3 as job.json, records of running jobs do not; a
// new pass (a restart, a new leader) starts at the checkpoint and archives
// only what ended since.
func TestArchivesEndedRecordsFromTheCheckpoint(t *testing.T) {
	n := testenv.StartNATS(t)
	_, js := n.Provisioned(t)
	m := testenv.StartMinIO(t)
	s3 := m.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	store, err := jobstore.Open(ctx, js)
	require.NoError(t, err)
	state, err := js.KeyValue(ctx, bus.BucketSupervisor)
	require.NoError(t, err)
	end := func(id string, status job.Status) {
		t.Helper()
		_, err := store.Create(ctx, job.Record{JobID: id, Status: job.StatusQueued, Spec: job.Spec{Prompt: "p " + id}})
		require.NoError(t, err)
		if status == job.StatusQueued {
			return
		}
		_, err = store.Update(ctx, id, func(r *job.Record) error { r.Status = job.StatusProcessing; return nil })
		require.NoError(t, err)
		if status == job.StatusProcessing {
			return
		}
		_, err = store.Update(ctx, id, func(r *job.Record) error {
			r.Status = status
			r.Delivery = &job.Delivery{StreamSeq: 1, Delivered: 1, Runner: "r", AckSubject: "$JS.ACK.secret"}
			return nil
		})
		require.NoError(t, err)
	}
	end("done", job.StatusCompleted)
	end("broken", job.StatusFailed)
	end("running", job.StatusProcessing)
	end("waiting", job.StatusQueued)

	run := func(a *Archiver, until func() bool) {
		t.Helper()
		passCtx, stop := context.WithCancel(ctx)
		finished := make(chan struct{})
		go func() { defer close(finished); a.Pass(passCtx) }()
		require.Eventually(t, until, 20*time.Second, 50*time.Millisecond)
		stop()
		<-finished
	}
	params := Params{Records: store.KV(), State: state, S3: s3, Bucket: m.Config.Bucket, SaveEvery: 50 * time.Millisecond, Logger: zaptest.NewLogger(t)}
	first := New(params)
	run(first, func() bool { return first.Archived() == 2 })

	for id, want := range map[string]bool{"done": true, "broken": true, "running": false, "waiting": false} {
		rec, ok, err := Lookup(ctx, s3, m.Config.Bucket, id)
		require.NoError(t, err)
		require.Equal(t, want, ok, id)
		if ok {
			require.Equal(t, id, rec.JobID)
			require.Equal(t, "p "+id, rec.Spec.Prompt)
			require.Empty(t, rec.Delivery.AckSubject, "the archive never holds an ack subject")
		}
	}
	_, ok, err := Lookup(ctx, s3, m.Config.Bucket, "../other")
	require.NoError(t, err)
	require.False(t, ok)

	// The running job ends; a new archiver starts at the checkpoint and
	// archives that one alone.
	_, err = store.Update(ctx, "running", func(r *job.Record) error { r.Status = job.StatusCompleted; return nil })
	require.NoError(t, err)
	second := New(params)
	run(second, func() bool {
		_, ok, _ := Lookup(ctx, s3, m.Config.Bucket, "running")
		return ok
	})
	require.Equal(t, int64(1), second.Archived(), "only what ended since the checkpoint")
}
