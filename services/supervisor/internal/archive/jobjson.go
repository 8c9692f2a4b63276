package archive

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
)

// A job.json (images/<job_id>/job.json) is one record, indented: what the
// archive wrote per job before segments, and still writes with
// CYBERIMAGE_ARCHIVE_JOB_JSON=true, for people browsing the bucket by job.

// maxArchivedBytes bounds a record as read back. Whoever may write to the
// bucket may put anything there; the archive writes a record of at most
// jobstore.MaxRecordBytes, indented, which at most doubles it.
const maxArchivedBytes = 2 * jobstore.MaxRecordBytes

// errArchivedTooLarge: a job.json over maxArchivedBytes, refused unread.
var errArchivedTooLarge = errors.New("archived record over the size limit")

// encodeArchived is the job.json the archive writes for a record.
func encodeArchived(rec job.Record) ([]byte, error) {
	return json.MarshalIndent(rec.Public(), "", "  ")
}

// decodeArchived reads a job.json, or a segment member's unpacked line:
// one record, of the job it is filed under, within maxArchivedBytes. S3's
// own errors come back unwrapped, so a caller can tell a missing key.
func decodeArchived(body io.Reader, jobID string) (job.Record, error) {
	data, err := io.ReadAll(io.LimitReader(body, maxArchivedBytes+1))
	if err != nil {
		return job.Record{}, err
	}
	if len(data) > maxArchivedBytes {
		return job.Record{}, fmt.Errorf("more than %d bytes: %w", maxArchivedBytes, errArchivedTooLarge)
	}
	var rec job.Record
	if err := json.Unmarshal(data, &rec); err != nil {
		return job.Record{}, fmt.Errorf("decode: %w", err)
	}
	if rec.JobID != jobID {
		return job.Record{}, fmt.Errorf("names job %q", rec.JobID)
	}
	return rec, nil
}
