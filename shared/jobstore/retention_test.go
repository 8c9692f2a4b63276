package jobstore

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/job"
	"cyberimage/shared/testenv"
)

// An ended record leaves the bucket when its retention runs out (the NATS
// server removes it); a record still processing, written at the same time,
// never expires; a failed record keeps its longer time; a conflicting
// writer of an ending write still loses the compare-and-set.
func TestEndedRecordsExpireAndOthersStay(t *testing.T) {
	s := openStore(t)
	s.retention = Retention{Record: time.Second, Failed: time.Hour}
	ctx := context.Background()
	for _, id := range []string{"done", "running", "failed", "rejected"} {
		status := job.StatusQueued
		if id == "rejected" {
			status = job.StatusRejected
		}
		_, err := s.Create(ctx, job.Record{JobID: id, Status: status})
		require.NoError(t, err)
	}
	for _, id := range []string{"done", "running", "failed"} {
		_, err := s.Update(ctx, id, func(r *job.Record) error { r.Status = job.StatusProcessing; return nil })
		require.NoError(t, err)
	}
	_, err := s.Update(ctx, "done", func(r *job.Record) error { r.Status = job.StatusCompleted; return nil })
	require.NoError(t, err)
	_, err = s.Update(ctx, "failed", func(r *job.Record) error { r.Status = job.StatusFailed; return nil })
	require.NoError(t, err)

	require.Eventually(t, func() bool {
		_, _, errDone := s.Get(ctx, "done")
		_, _, errRejected := s.Get(ctx, "rejected")
		return errDone == ErrNotFound && errRejected == ErrNotFound
	}, 10*time.Second, 100*time.Millisecond, "completed and rejected records expire")
	for _, id := range []string{"running", "failed"} {
		_, _, err := s.Get(ctx, id)
		require.NoError(t, err, "%s must still be there", id)
	}
}

func TestEndingWriteIsStillACompareAndSet(t *testing.T) {
	s := storeWithQueuedJob(t)
	ctx := context.Background()
	_, err := s.Update(ctx, "J", func(r *job.Record) error { r.Status = job.StatusProcessing; return nil })
	require.NoError(t, err)
	// Eight writers race to end the job, each by a different route; all
	// use the TTL path, and exactly one may win.
	var won atomic.Int32
	testenv.Race(8, func(int) {
		_, err := s.Update(ctx, "J", func(r *job.Record) error {
			if r.Status != job.StatusProcessing {
				return ErrUnchanged
			}
			r.Status = job.StatusCompleted
			r.Attempts++
			return nil
		})
		if err == nil {
			won.Add(1)
		}
	})
	rec, _, err := s.Get(ctx, "J")
	require.NoError(t, err)
	require.Equal(t, int32(1), won.Load())
	require.Equal(t, 1, rec.Attempts)
}
