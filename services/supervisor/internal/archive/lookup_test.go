package archive

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/require"

	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
	"cyberimage/shared/s3layout"
)

// countingS3 counts the requests that read (GET, HEAD) and those that
// write.
type countingS3 struct{ reads, writes *atomic.Int64 }

func (c countingS3) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		c.reads.Add(1)
	} else {
		c.writes.Add(1)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// A lookup costs at most two S3 reads, whatever the job: a ULID's and a
// request_id id's record in a segment, a job archived as job.json before
// segments (it still answers), a job never archived.
func TestLookupCostsAtMostTwoReads(t *testing.T) {
	f := newFixture(t)
	ulid := job.NewID(time.Now(), "lookup")
	rid := job.IDForRequestID("lookup")
	f.end(t, ulid, job.StatusCompleted)
	f.end(t, rid, job.StatusCancelled)
	a := New(f.params(t))
	run(t, a, func() bool { _, ok := f.lookup(t, rid); return ok }, "both jobs indexed")

	// A job the archive wrote as job.json, before segments.
	legacy := archivedRecord()
	legacy.JobID = job.NewID(time.Now().Add(-time.Hour), "legacy")
	body, err := encodeArchived(legacy)
	require.NoError(t, err)
	_, err = f.s3.PutObject(f.ctx, f.minio.Config.Bucket, s3layout.RecordKey(legacy.JobID), bytes.NewReader(body), int64(len(body)),
		minio.PutObjectOptions{})
	require.NoError(t, err)

	var reads, writes atomic.Int64
	counted := f.client(t, countingS3{reads: &reads, writes: &writes})
	for id, want := range map[string]bool{ulid: true, rid: true, legacy.JobID: true, job.IDForRequestID("never"): false, "never": false} {
		reads.Store(0)
		rec, ok, err := Lookup(f.ctx, counted, f.minio.Config.Bucket, id)
		require.NoError(t, err, id)
		require.Equal(t, want, ok, id)
		if ok {
			require.Equal(t, id, rec.JobID)
		}
		require.LessOrEqual(t, reads.Load(), int64(2), "reads for %s", id)
	}
	require.Zero(t, writes.Load(), "a lookup writes nothing")
}

// A crash between writing a segment and indexing it loses nothing: the
// checkpoint was not saved, so the next archiver archives the record
// again, in a segment of the same name and the same bytes, and indexes
// it.
func TestCrashBetweenSegmentAndIndex(t *testing.T) {
	f := newFixture(t)
	f.end(t, "crash-1", job.StatusCompleted)
	f.end(t, "crash-2", job.StatusFailed)
	var ended []struct {
		rev uint64
		rec job.Record
	}
	for _, id := range []string{"crash-1", "crash-2"} {
		e, err := f.store.KV().Get(f.ctx, id)
		require.NoError(t, err)
		rec, err := jobstore.Decode(e.Value())
		require.NoError(t, err)
		ended = append(ended, struct {
			rev uint64
			rec job.Record
		}{e.Revision(), rec})
	}

	// The first archiver writes the segment and dies before its index pass.
	crashed := New(f.params(t))
	crashed.reset(0)
	for _, e := range ended {
		require.NoError(t, crashed.add(f.ctx, e.rev, e.rec))
	}
	require.NoError(t, crashed.flush(f.ctx))
	segments := f.segments(t)
	require.Len(t, segments, 1)
	_, ok := f.lookup(t, "crash-1")
	require.False(t, ok, "written, not indexed yet")

	f.seen(t, "crash-2") // the next archiver reads both from the bucket, as one segment
	next := New(f.params(t))
	run(t, next, func() bool { _, ok := f.lookup(t, "crash-2"); return ok }, "the next archiver indexed the records")
	_, ok = f.lookup(t, "crash-1")
	require.True(t, ok)
	require.Equal(t, segments, f.segments(t), "the segment was written again under the same name, with the same bytes")
}

// segments lists the archive's segments, key to ETag (an MD5 of the
// bytes).
func (f fixture) segments(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for obj := range f.s3.ListObjects(f.ctx, f.minio.Config.Bucket, minio.ListObjectsOptions{Prefix: "archive/segments/", Recursive: true}) {
		require.NoError(t, obj.Err)
		out[obj.Key] = obj.ETag
	}
	return out
}

// A segment read whole with gunzip (as `mc cat … | gunzip` does) is NDJSON,
// one public record a line, in the order the jobs ended.
func TestSegmentReadsWholeAsNDJSON(t *testing.T) {
	f := newFixture(t)
	ids := []string{"a-1", "a-2", "a-3"}
	for _, id := range ids {
		f.end(t, id, job.StatusCompleted)
	}
	f.seen(t, ids[len(ids)-1]) // the archiver reads all three from the bucket at once
	params := f.params(t)
	params.SegmentRecords = len(ids)
	params.FlushInterval = time.Hour
	a := New(params)
	run(t, a, func() bool { return a.Segments() == 1 }, "one segment of three records")
	for key := range f.segments(t) {
		obj, err := f.s3.GetObject(f.ctx, f.minio.Config.Bucket, key, minio.GetObjectOptions{})
		require.NoError(t, err)
		zr, err := gzip.NewReader(obj)
		require.NoError(t, err)
		var got []string
		lines := bufio.NewScanner(zr)
		for lines.Scan() {
			var rec job.Record
			require.NoError(t, json.Unmarshal(lines.Bytes(), &rec))
			require.Empty(t, rec.Delivery.AckSubject, "public records only")
			require.NotContains(t, lines.Text(), "$JS.ACK")
			got = append(got, rec.JobID)
		}
		require.NoError(t, lines.Err())
		require.Equal(t, ids, got)
		require.NoError(t, obj.Close())
	}
}

// A page write over a page that changed since it was read is refused, so
// two writers (a deposed leader finishing, its successor) never lose each
// other's entries; applyPage reads again and keeps both.
func TestPageWritesDoNotLoseEntries(t *testing.T) {
	f := newFixture(t)
	bucket, key := f.minio.Config.Bucket, s3layout.ArchiveIndexKey("x")
	entry := func(id string, rev uint64) location {
		return location{JobID: id, Revision: rev, Segment: s3layout.ArchiveSegmentKey(rev, rev), Length: 10}
	}
	require.NoError(t, applyPage(f.ctx, f.s3, bucket, key, []location{entry("x", 1)}))
	stale, etag, err := readPage(f.ctx, f.s3, bucket, key)
	require.NoError(t, err)
	require.NotEmpty(t, etag)
	require.NoError(t, applyPage(f.ctx, f.s3, bucket, key, []location{entry("y", 2)}), "the other writer")
	stale.merge([]location{entry("z", 3)})
	require.ErrorIs(t, putPage(f.ctx, f.s3, bucket, key, stale, etag), errPageChanged)
	require.ErrorIs(t, putPage(f.ctx, f.s3, bucket, key, stale, ""), errPageChanged, "creating a page that exists")

	require.NoError(t, applyPage(f.ctx, f.s3, bucket, key, []location{entry("z", 3), entry("x", 0)}))
	p, _, err := readPage(f.ctx, f.s3, bucket, key)
	require.NoError(t, err)
	require.Equal(t, page{"x": entry("x", 1), "y": entry("y", 2), "z": entry("z", 3)}, p, "an older ending does not replace a newer")
}

// Start and Stop follow the lifecycle contract: a second Start and a
// second Stop do nothing, Stop before Start is fine, and it starts again.
func TestArchiverStartsAndStopsOnce(t *testing.T) {
	f := newFixture(t)
	a := New(f.params(t))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, a.Stop(ctx))
	require.NoError(t, a.Start(ctx))
	require.NoError(t, a.Start(ctx))
	require.NoError(t, a.Stop(ctx))
	require.NoError(t, a.Stop(ctx))
	f.end(t, "again", job.StatusCompleted)
	run(t, a, func() bool { _, ok := f.lookup(t, "again"); return ok }, "started again, it archives")
	require.True(t, strings.HasPrefix(s3layout.ArchiveIndexKey("again"), s3layout.ArchivePrefix))
}
