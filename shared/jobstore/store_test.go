package jobstore

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/testenv"
)

func openStore(t *testing.T) *Store {
	t.Helper()
	srv := testenv.StartNATS(t)
	_, js := srv.Connect(t)
	require.NoError(t, bus.Ensure(context.Background(), js, bus.DefaultSettings()))
	s, err := Open(context.Background(), js)
	require.NoError(t, err)
	return s
}

// storeWithQueuedJob opens a store holding one queued job, "J".
func storeWithQueuedJob(t *testing.T) *Store {
	t.Helper()
	s := openStore(t)
	_, err := s.Create(context.Background(), job.Record{JobID: "J", Status: job.StatusQueued})
	require.NoError(t, err)
	return s
}

func TestConcurrentUpdatesNeverLoseAWrite(t *testing.T) {
	s := storeWithQueuedJob(t)
	ctx := context.Background()
	testenv.Race(8, func(int) {
		_, err := s.Update(ctx, "J", func(r *job.Record) error { r.Attempts++; return nil })
		require.NoError(t, err)
	})
	rec, _, err := s.Get(ctx, "J")
	require.NoError(t, err)
	require.Equal(t, 8, rec.Attempts, "every compare-and-set counted once")
}

func TestTransitionsAreEnforced(t *testing.T) {
	s := storeWithQueuedJob(t)
	ctx := context.Background()
	_, err := s.Update(ctx, "J", func(r *job.Record) error { r.Status = job.StatusCompleted; return nil })
	require.ErrorIs(t, err, ErrTransition, "queued cannot jump to completed")
	_, err = s.Update(ctx, "J", func(r *job.Record) error { r.Status = job.StatusProcessing; return nil })
	require.NoError(t, err)
	_, err = s.Update(ctx, "J", func(r *job.Record) error { r.Status = job.StatusCompleted; return nil })
	require.NoError(t, err)
	_, err = s.Update(ctx, "J", func(r *job.Record) error { r.Status = job.StatusProcessing; return nil })
	require.ErrorIs(t, err, ErrTransition, "nothing moves a completed record backwards")
	_, err = s.Create(ctx, job.Record{JobID: "J"})
	require.ErrorIs(t, err, ErrExists)
	_, _, err = s.Get(ctx, "nope")
	require.True(t, errors.Is(err, ErrNotFound))
}

func TestUpdateFromFallsBackWhenStale(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	rev, err := s.Create(ctx, job.Record{JobID: "J", Status: job.StatusQueued})
	require.NoError(t, err)
	known, _, err := s.Get(ctx, "J")
	require.NoError(t, err)

	// Fresh knowledge: one write, and the revision it returns is current.
	rec, rev2, err := s.UpdateFrom(ctx, known, rev, func(r *job.Record) error { r.Attempts = 1; return nil })
	require.NoError(t, err)
	require.Greater(t, rev2, rev)

	// Someone else writes; the stale knowledge must not overwrite them.
	_, err = s.Update(ctx, "J", func(r *job.Record) error { r.Runner = "other"; return nil })
	require.NoError(t, err)
	rec, _, err = s.UpdateFrom(ctx, rec, rev2, func(r *job.Record) error { r.Attempts++; return nil })
	require.NoError(t, err)
	require.Equal(t, "other", rec.Runner, "the fallback re-read the record")
	require.Equal(t, 2, rec.Attempts)
}
