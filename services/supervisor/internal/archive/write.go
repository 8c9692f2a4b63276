package archive

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/minio/minio-go/v7"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"cyberimage/shared/job"
	"cyberimage/shared/lifecycle"
	"cyberimage/shared/objectstore"
	"cyberimage/shared/s3layout"
	"cyberimage/shared/tracing"
)

// finishTimeout bounds the last write of a session that ends (the lease
// lost, the supervisor stopping): what it holds is written and indexed if
// S3 answers within it, or archived again by the next session.
const finishTimeout = 5 * time.Second

// add gathers the record that ended at revision rev, writing the segment
// when it is full and the index when enough waits for it.
func (a *Archiver) add(ctx context.Context, rev uint64, rec job.Record) error {
	if err := a.seg.add(rev, rec); err != nil {
		a.log.Warn("a record the archive cannot encode is left out", zap.String("job_id", rec.JobID), zap.Error(err))
		return nil
	}
	// One span per record, from the moment it is gathered to its segment's
	// write, in the trace of the request that made the job.
	_, span := tracing.Tracer().Start(tracing.FromTraceparent(ctx, rec.Traceparent), "supervisor.archive",
		trace.WithAttributes(attribute.String("job_id", rec.JobID)))
	a.spans = append(a.spans, span)
	if a.p.JobJSON {
		a.records = append(a.records, rec)
	}
	if a.seg.Len() >= a.p.SegmentRecords {
		if err := a.flush(ctx); err != nil {
			return err
		}
	}
	if a.pend.Len() >= a.p.MaxPending {
		return a.index(ctx)
	}
	return nil
}

// flush writes the gathered records as a segment (and, with JobJSON, each
// as its job.json), retrying while S3 is down; an error only when ctx ends
// first.
func (a *Archiver) flush(ctx context.Context) error {
	if a.seg.Len() == 0 {
		return nil
	}
	body := a.seg.body.Bytes()
	// Each try is bounded (a hung node) and a retry writes under a fresh
	// key (a dead node's lock on the first): a lost MinIO node costs the
	// archive seconds, not minutes.
	policy := a.policy("writing an archive segment to S3 failed; retrying")
	policy.TryTimeout = objectstore.TryTimeout(len(body))
	var try int
	var key string // the last try's: Retry makes at least one
	err := lifecycle.Retry(ctx, policy, func(ctx context.Context) error {
		key = a.seg.key(try)
		try++
		_, err := a.p.S3.PutObject(ctx, a.p.Bucket, key, bytes.NewReader(body), int64(len(body)),
			minio.PutObjectOptions{ContentType: "application/gzip"})
		return err
	})
	if err != nil {
		return fmt.Errorf("write segment %s: %w", key, err)
	}
	for _, rec := range a.records {
		if err := a.putJobJSON(ctx, rec); err != nil {
			return err
		}
	}
	entries := a.seg.sealed(key)
	for _, s := range a.spans {
		s.SetAttributes(attribute.String("key", key))
	}
	a.endSpans()
	a.records = nil
	a.pend.add(entries)
	a.archived.Add(int64(len(entries)))
	a.segments.Add(1)
	return nil
}

func (a *Archiver) endSpans() {
	for _, s := range a.spans {
		s.End()
	}
	a.spans = nil
}

// putJobJSON writes a record's images/<job_id>/job.json.
func (a *Archiver) putJobJSON(ctx context.Context, rec job.Record) error {
	body, err := encodeArchived(rec)
	if err != nil {
		return nil // it encoded for the segment: cannot happen
	}
	policy := a.policy("writing a job.json to S3 failed; retrying")
	policy.TryTimeout = objectstore.TryTimeout(len(body))
	err = lifecycle.Retry(ctx, policy, func(ctx context.Context) error {
		_, err := a.p.S3.PutObject(ctx, a.p.Bucket, s3layout.RecordKey(rec.JobID), bytes.NewReader(body), int64(len(body)),
			minio.PutObjectOptions{ContentType: "application/json"})
		return err
	})
	if err != nil {
		return fmt.Errorf("write %s: %w", s3layout.RecordKey(rec.JobID), err)
	}
	return nil
}

// pageTryTimeout bounds one read-and-write of an index page: four times
// a small object's bound, room for pages of a large archive.
var pageTryTimeout = 4 * objectstore.TryTimeout(0)

// index writes what is gathered, brings the index pages up to date with
// every segment written, then saves the checkpoint: everything that ended
// up to it is archived and found.
func (a *Archiver) index(ctx context.Context) error {
	if err := a.flush(ctx); err != nil {
		return err
	}
	upTo := a.taken
	// A page is read and written again under its own key (its ETag is the
	// guard against a second writer), so a retry cannot move to a fresh
	// key; each try is still bounded, so a hung node costs a try, not the
	// pass.
	policy := a.policy("updating an archive index page failed; retrying")
	policy.TryTimeout = pageTryTimeout
	for _, key := range a.pend.keys() {
		err := lifecycle.Retry(ctx, policy, func(ctx context.Context) error {
			return applyPage(ctx, a.p.S3, a.p.Bucket, key, a.pend.pages[key])
		})
		if err != nil {
			return fmt.Errorf("index: %w", err)
		}
		a.pages.Add(1)
	}
	a.pend = pending{}
	if upTo != a.saved && a.save(ctx, upTo) {
		a.saved = upTo
	}
	return nil
}

// finish writes and indexes what a session holds as it ends, within
// finishTimeout, even though ctx has ended.
func (a *Archiver) finish(ctx context.Context) {
	if a.seg.Len() == 0 && a.pend.Len() == 0 && a.taken == a.saved {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	if err := a.index(ctx); err != nil {
		a.log.Info("the archive's last write before stopping did not finish; the next session archives those records again",
			zap.Error(err))
	}
}
