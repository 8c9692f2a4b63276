package archive

import (
	"context"
	"fmt"
	"strings"

	"github.com/minio/minio-go/v7"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/objectstore"
	"cyberimage/shared/s3layout"
)

// Lookup reads an archived record: ok is false when none was archived. It
// costs at most two S3 reads: the job's index page, then either the
// record's bytes in its segment or, for a job the page does not list
// (archived as job.json before segments, or by a leader whose index pass
// has not run yet), its job.json.
func Lookup(ctx context.Context, s3 *minio.Client, bucket, jobID string) (rec job.Record, ok bool, err error) {
	// A job id is one NATS token; anything with a slash would name another
	// key of the bucket.
	if !bus.ValidToken(jobID) || strings.Contains(jobID, "/") {
		return rec, false, nil
	}
	p, _, err := readPage(ctx, s3, bucket, s3layout.ArchiveIndexKey(jobID))
	if err != nil {
		return rec, false, err
	}
	if loc, listed := p[jobID]; listed {
		rec, err = readMember(ctx, s3, bucket, loc)
		return rec, err == nil, err
	}
	return lookupJobJSON(ctx, s3, bucket, jobID)
}

// readMember reads one record from its segment with a ranged GET.
func readMember(ctx context.Context, s3 *minio.Client, bucket string, loc location) (job.Record, error) {
	var opts minio.GetObjectOptions
	if err := opts.SetRange(loc.Offset, loc.Offset+loc.Length-1); err != nil {
		return job.Record{}, fmt.Errorf("archived record %s: %w", loc.JobID, err)
	}
	obj, err := s3.GetObject(ctx, bucket, loc.Segment, opts)
	if err != nil {
		return job.Record{}, fmt.Errorf("archived record %s: %w", loc.JobID, err)
	}
	defer obj.Close()
	rec, err := decodeMember(obj, loc.JobID)
	if err != nil {
		return job.Record{}, fmt.Errorf("archived record %s in %s: %w", loc.JobID, loc.Segment, err)
	}
	return rec, nil
}

// lookupJobJSON reads a job's images/<job_id>/job.json.
func lookupJobJSON(ctx context.Context, s3 *minio.Client, bucket, jobID string) (rec job.Record, ok bool, err error) {
	obj, err := s3.GetObject(ctx, bucket, s3layout.RecordKey(jobID), minio.GetObjectOptions{})
	if err != nil {
		return rec, false, err
	}
	defer obj.Close()
	rec, err = decodeArchived(obj, jobID)
	if err != nil {
		if objectstore.ErrorCode(err) == "NoSuchKey" {
			return rec, false, nil
		}
		return rec, false, fmt.Errorf("archived record %s: %w", jobID, err)
	}
	return rec, true, nil
}
