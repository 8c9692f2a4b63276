package archive

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"

	"cyberimage/shared/job"
	"cyberimage/shared/s3layout"
)

// A segment is the records of a run of revisions, each one gzip member
// holding one JSON line: `gunzip` reads a whole segment as NDJSON (it reads
// concatenated members as one stream), and a ranged GET of one member's
// bytes reads one record.

// location is where a record is in the archive: the index's entry.
type location struct {
	JobID    string
	Revision uint64 // the revision that ended the job: the newest wins
	Segment  string // the segment's key
	Offset   int64
	Length   int64
}

// segment gathers records until it is written.
type segment struct {
	zw      *gzip.Writer // reused: a deflate state costs several hundred KB to make
	body    bytes.Buffer
	entries []location
	from    uint64
	to      uint64
}

func newSegment() *segment {
	zw, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed) // a valid level: no error
	return &segment{zw: zw}
}

// add appends the record that ended at revision rev.
func (s *segment) add(rev uint64, rec job.Record) error {
	line, err := json.Marshal(rec.Public())
	if err != nil {
		return fmt.Errorf("encode record %s: %w", rec.JobID, err)
	}
	start := int64(s.body.Len())
	s.zw.Reset(&s.body)
	_, _ = s.zw.Write(append(line, '\n')) // into a bytes.Buffer: no error
	_ = s.zw.Close()
	if len(s.entries) == 0 {
		s.from = rev
	}
	s.to = rev
	s.entries = append(s.entries, location{JobID: rec.JobID, Revision: rev, Offset: start, Length: int64(s.body.Len()) - start})
	return nil
}

// Len is the number of records gathered.
func (s *segment) Len() int { return len(s.entries) }

// key names the segment by the revisions it holds, for its write's
// try-th retry (s3layout.ArchiveSegmentKeyAt).
func (s *segment) key(try int) string { return s3layout.ArchiveSegmentKeyAt(s.from, s.to, try) }

// sealed returns the entries with the key the segment was written under,
// and empties it.
func (s *segment) sealed(key string) []location {
	out := s.entries
	for i := range out {
		out[i].Segment = key
	}
	s.entries, s.from, s.to = nil, 0, 0
	s.body.Reset()
	return out
}

// decodeMember reads one record from a member's bytes, which must be the
// record of jobID, within maxArchivedBytes unpacked.
func decodeMember(body io.Reader, jobID string) (job.Record, error) {
	zr, err := gzip.NewReader(body)
	if err != nil {
		return job.Record{}, fmt.Errorf("open member: %w", err)
	}
	zr.Multistream(false) // one member: the range should end there anyway
	rec, err := decodeArchived(zr, jobID)
	if err != nil {
		return job.Record{}, fmt.Errorf("member: %w", err)
	}
	return rec, nil
}
