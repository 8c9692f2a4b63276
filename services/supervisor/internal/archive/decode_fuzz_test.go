package archive

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/require"

	"cyberimage/shared/job"
	"cyberimage/shared/objectstore"
)

// job.json, index pages and segment members (in S3) are read back from
// stores others may write to: every decoder is fuzzed (the checkpoint's,
// in package follow).

func archivedRecord() job.Record {
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	return job.Record{JobID: "01JABCDEFGHJKMNPQRSTVWXYZ0", Status: job.StatusCompleted, Attempts: 1, Runner: "host-1",
		Spec:      job.Spec{Prompt: "a cat", Model: "demo", Width: 512, Height: 512, Steps: 20, Guidance: 7.5, NumImages: 1},
		Images:    []string{"images/01JABCDEFGHJKMNPQRSTVWXYZ0/0.png"},
		CreatedAt: at, StartedAt: job.UTC(at.Add(time.Second)), CompletedAt: job.UTC(at.Add(time.Minute)),
		Stages:     job.Stages{QueueWaitMS: 1.5, InferenceMS: 900, BatchSize: 1},
		Delivery:   &job.Delivery{StreamSeq: 7, Delivered: 2, Runner: "host-1", StartedAt: at, AckSubject: "$JS.ACK.a.b.2.7.7.1.0"},
		Recoveries: []job.Recovery{{At: at, Attempt: 1, Runner: "host-2", Delivery: "7.1", Reason: "stalled"}},
		UpdatedAt:  at, FirstRevision: 3}
}

// endless is a body that never ends, as a hostile or broken store may
// serve one.
type endless struct{ read int64 }

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	e.read += int64(len(p))
	return len(p), nil
}

func TestDecodeArchivedIsBounded(t *testing.T) {
	t.Parallel()
	body := &endless{}
	_, err := decodeArchived(body, "J")
	require.ErrorIs(t, err, errArchivedTooLarge)
	require.LessOrEqual(t, body.read, int64(maxArchivedBytes+64<<10), "reading stops at the limit")

	// S3's error reaches Lookup as S3's, so a missing key is told apart.
	_, err = decodeArchived(io.MultiReader(bytes.NewReader([]byte("{")), errReader{minio.ErrorResponse{Code: "NoSuchKey"}}), "J")
	require.Equal(t, "NoSuchKey", objectstore.ErrorCode(err))

	rec := archivedRecord()
	data, err := encodeArchived(rec)
	require.NoError(t, err)
	got, err := decodeArchived(bytes.NewReader(data), rec.JobID)
	require.NoError(t, err)
	require.Equal(t, rec.Spec, got.Spec)
	require.Empty(t, got.Delivery.AckSubject)
	_, err = decodeArchived(bytes.NewReader(data), "another")
	require.Error(t, err, "a record filed under another job's key")
	_, err = decodeArchived(bytes.NewReader(append(data, "{}"...)), rec.JobID)
	require.Error(t, err, "trailing data")
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// FuzzDecodeArchived: no body makes decoding panic; what it takes is
// within the limit, of the job asked for, and round-trips through the
// archive's own encoding.
func FuzzDecodeArchived(f *testing.F) {
	rec := archivedRecord()
	real, _ := encodeArchived(rec)
	f.Add(real, rec.JobID)
	f.Add(real, "other")
	for _, s := range []string{"", "null", `{"job_id":""}`, `{"job_id":"J"} {}`, `{"job_id":"J","created_at":"now"}`, `[]`} {
		f.Add([]byte(s), "J")
	}
	f.Fuzz(func(t *testing.T, data []byte, jobID string) {
		got, err := decodeArchived(bytes.NewReader(data), jobID)
		if err != nil {
			if len(data) > maxArchivedBytes && !errors.Is(err, errArchivedTooLarge) {
				t.Fatalf("oversize body refused as %v", err)
			}
			return
		}
		if got.JobID != jobID || len(data) > maxArchivedBytes {
			t.Fatalf("accepted %q of %d bytes for job %q", got.JobID, len(data), jobID)
		}
		once, err := encodeArchived(got)
		if err != nil {
			return // a time JSON cannot hold: nothing the archive writes
		}
		again, err := decodeArchived(bytes.NewReader(once), jobID)
		if err != nil {
			t.Fatalf("own encoding refused: %v\n%s", err, once)
		}
		if twice, _ := encodeArchived(again); !bytes.Equal(once, twice) {
			t.Fatalf("round trip changed the record:\n%s\n%s", once, twice)
		}
	})
}

// FuzzDecodePage: no body makes an index page's decoding panic; what it
// takes re-encodes to a page that reads back the same.
func FuzzDecodePage(f *testing.F) {
	real := encodePage(page{"J": {JobID: "J", Revision: 7, Segment: "archive/segments/7-7.ndjson.gz", Offset: 0, Length: 300}})
	f.Add(real)
	for _, s := range []string{"", "J\t7\tarchive/segments/x\t0\t1\n", "J\t-1\tarchive/segments/x\t0\t1\n", "J\t7\timages/x\t0\t1\n", "\n\n"} {
		f.Add(encodePage(nil))
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := decodePage(bytes.NewReader(data))
		if err != nil {
			return
		}
		again, err := decodePage(bytes.NewReader(encodePage(p)))
		if err != nil {
			t.Fatalf("own encoding refused: %v", err)
		}
		require.Equal(t, p, again)
	})
}

// FuzzDecodeMember: no bytes make a segment member's decoding panic; what
// it takes is a record of the job asked for.
func FuzzDecodeMember(f *testing.F) {
	rec := archivedRecord()
	s := newSegment()
	require.NoError(f, s.add(1, rec))
	f.Add(s.body.Bytes(), rec.JobID)
	f.Add(s.body.Bytes(), "other")
	f.Add([]byte{0x1f, 0x8b}, "J")
	f.Fuzz(func(t *testing.T, data []byte, jobID string) {
		got, err := decodeMember(bytes.NewReader(data), jobID)
		if err == nil && got.JobID != jobID {
			t.Fatalf("accepted %q for job %q", got.JobID, jobID)
		}
	})
}

// A segment's member reads back as its record, without its ack subject;
// one that unpacks past the limit is refused.
func TestSegmentMemberRoundTrip(t *testing.T) {
	t.Parallel()
	rec := archivedRecord()
	s := newSegment()
	require.NoError(t, s.add(3, rec))
	require.NoError(t, s.add(9, rec))
	require.Equal(t, "archive/segments/00000000000000000003-00000000000000000009.ndjson.gz", s.key(0))
	// A retried write goes next to the first name, and the entries name
	// the key actually written.
	require.Equal(t, "archive/segments/00000000000000000003-00000000000000000009.2.ndjson.gz", s.key(2))
	entries := s.sealed(s.key(2))
	require.Len(t, entries, 2)
	require.Equal(t, "archive/segments/00000000000000000003-00000000000000000009.2.ndjson.gz", entries[1].Segment)
	require.Zero(t, s.Len())
	s2 := newSegment()
	require.NoError(t, s2.add(3, rec))
	got, err := decodeMember(bytes.NewReader(s2.body.Bytes()), rec.JobID)
	require.NoError(t, err)
	require.Equal(t, rec.Spec, got.Spec)
	require.Empty(t, got.Delivery.AckSubject)

	var big bytes.Buffer
	zw := gzip.NewWriter(&big)
	_, _ = zw.Write(bytes.Repeat([]byte(" "), maxArchivedBytes+10))
	require.NoError(t, zw.Close())
	_, err = decodeMember(&big, "J")
	require.ErrorIs(t, err, errArchivedTooLarge)
}
