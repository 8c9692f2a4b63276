package jobstore

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
)

// Every write carries the record's lineage, and a purge leaves a
// tombstone that says what left: what a reader that missed revisions needs
// to count the job once.
func TestWritesCarryLineageAndPurgesATombstone(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	created := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	first, err := s.Create(ctx, job.Record{JobID: "J", Status: job.StatusQueued, Spec: job.Spec{Model: "demo"}, CreatedAt: created,
		FirstRevision: 99, SettledAs: job.StatusFailed})
	require.NoError(t, err)
	rec, _, err := s.Get(ctx, "J")
	require.NoError(t, err)
	require.Zero(t, rec.FirstRevision, "a creating write names no other revision")
	require.Empty(t, rec.SettledAs)

	set := func(st job.Status) job.Record {
		rec, err := s.Update(ctx, "J", func(r *job.Record) error { r.Status = st; return nil })
		require.NoError(t, err)
		return rec
	}
	rec = set(job.StatusFailed)
	require.Equal(t, first, rec.FirstRevision)
	require.Empty(t, rec.SettledAs, "it had never ended before this write")
	rec = set(job.StatusQueued)
	require.Equal(t, job.StatusFailed, rec.SettledAs)
	rec = set(job.StatusProcessing)
	require.Equal(t, job.StatusFailed, rec.SettledAs, "kept until it ends again")
	rec = set(job.StatusCompleted)
	require.Equal(t, first, rec.FirstRevision)
	require.Empty(t, rec.Public().SettledAs, "lineage is the pipeline's, not the public record's")

	require.NoError(t, s.DeleteEnded(ctx, "J"))
	_, _, err = s.Get(ctx, "J")
	require.ErrorIs(t, err, ErrNotFound)
	stream, err := s.js.Stream(ctx, "KV_"+bus.BucketJobs)
	require.NoError(t, err)
	marker, err := stream.GetLastMsgForSubject(ctx, bus.RecordSubject("J"))
	require.NoError(t, err)
	require.Equal(t, "DEL", marker.Header.Get("KV-Operation"))
	require.NotEmpty(t, marker.Header.Get("Nats-TTL"), "the marker expires too")
	tomb, ok := DecodeTombstone(marker.Data)
	require.True(t, ok)
	require.Equal(t, Tombstone{Status: job.StatusCompleted, Model: "demo", CreatedAt: created, FirstRevision: first}, tomb)
	_, ok = DecodeTombstone(nil)
	require.False(t, ok, "a marker without a body is not a tombstone")
}
