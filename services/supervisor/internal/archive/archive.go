// Package archive copies each ended job's final record to S3, next to its
// images (images/<job_id>/job.json), so the record outlives its retention
// in KV: the supervisor serves it from there, and a person browsing the
// bucket sees each job's prompt, settings and timings.
//
// The leader takes ended records from the index, which follows and decodes
// the record bucket anyway, so each record write is read and decoded once
// by the supervisor. A checkpoint in KV (the last revision archived) lets a
// restart or a new leader carry on where the last one stopped: what ended
// between the checkpoint and the index's revision is read from the bucket
// once, then the index's feed takes over. It may archive a few records
// twice after a crash (the same content again), never skip one.
package archive

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"cyberimage/services/supervisor/internal/index"
	"cyberimage/shared/backoff"
	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
	"cyberimage/shared/lifecycle"
	"cyberimage/shared/objectstore"
	"cyberimage/shared/s3layout"
	"cyberimage/shared/tracing"
)

// checkpointKey holds the last revision of the record bucket archived.
const checkpointKey = "archive-revision"

// Source is where ended records come from: the supervisor's index.
type Source interface {
	FollowEnded(limit int, after uint64) (*index.Feed, uint64)
	Unfollow(*index.Feed)
}

// Params are what the Archiver needs.
type Params struct {
	Ended   Source
	Records jetstream.KeyValue // the job records, read to catch up
	State   jetstream.KeyValue // where the checkpoint is kept
	S3      *minio.Client
	Bucket  string
	// SaveEvery is how often the checkpoint is written while records flow.
	SaveEvery time.Duration
	// FeedLimit bounds the ended records waiting for S3 (while it is down,
	// say) before the archiver drops the feed and reads the bucket later
	// instead.
	FeedLimit int
	// CatchUpBatch bounds the ended records a catch-up holds at once: it
	// reads that many from the bucket, stops reading, archives them, and
	// reads on.
	CatchUpBatch int
	Logger       *zap.Logger
}

// Archiver is the leader's archive loop.
type Archiver struct {
	p        Params
	log      *zap.Logger
	archived atomic.Int64
	failures atomic.Int64
	lost     atomic.Int64
}

// New makes an archiver.
func New(p Params) *Archiver {
	if p.SaveEvery <= 0 {
		p.SaveEvery = 2 * time.Second
	}
	if p.FeedLimit <= 0 {
		p.FeedLimit = 10_000
	}
	if p.CatchUpBatch <= 0 {
		p.CatchUpBatch = 1000
	}
	return &Archiver{p: p, log: p.Logger.Named("archive")}
}

// Archived counts records written to S3 by this process.
func (a *Archiver) Archived() int64 { return a.archived.Load() }

// FeedsLost counts the times the archiver fell so far behind the index
// that it read the bucket to catch up.
func (a *Archiver) FeedsLost() int64 { return a.lost.Load() }

// Pass archives every record that ended since the checkpoint until ctx
// ends (the lease is lost or the supervisor stops). When S3 or NATS fail it
// pauses a second and carries on from the checkpoint; it begins at once, so
// a new leader does not leave records to pile up.
func (a *Archiver) Pass(ctx context.Context) {
	a.pass(ctx)
	select {
	case <-ctx.Done():
	case <-time.After(time.Second):
	}
}

func (a *Archiver) pass(ctx context.Context) {
	from, err := a.checkpoint(ctx)
	if err != nil {
		a.log.Warn("reading the archive checkpoint failed; retrying", zap.Error(err))
		return
	}
	feed, fed := a.p.Ended.FollowEnded(a.p.FeedLimit, from)
	defer a.p.Ended.Unfollow(feed)
	last, saved := from, from
	defer func() {
		if last != saved {
			a.save(context.WithoutCancel(ctx), last)
		}
	}()
	if from < fed {
		// What ended before the feed began is in the bucket; the catch-up
		// saves its own checkpoint after each batch.
		var ok bool
		last, saved, ok = a.catchUp(ctx, from, fed)
		if !ok {
			return
		}
	}
	save := time.NewTicker(a.p.SaveEvery)
	defer save.Stop()
	for {
		var saveNow bool
		select {
		case <-ctx.Done():
			return
		case <-feed.Signal():
		case <-save.C:
			saveNow = true
		}
		items, covered, lost := feed.Take()
		if lost {
			a.lost.Add(1)
			a.log.Info("the archive fell behind the index's feed; reading the bucket from its checkpoint")
			return
		}
		for _, e := range items {
			if !a.archiveRecord(ctx, e.Record) {
				return // ctx ended while S3 was down: carry on from last
			}
			last = e.Revision
		}
		last = max(last, covered)
		if saveNow && last != saved && a.save(ctx, last) {
			saved = last
		}
	}
}

// catchUp archives the records that ended after revision from, up to and
// including revision to, reading them from the bucket a batch at a time
// and saving the checkpoint after each, so a long catch-up (a bucket this
// leader never archived) keeps its progress through a crash. It returns
// the revision archived up to (to, or less when ctx ended or NATS failed
// first: ok false) and the one last saved.
func (a *Archiver) catchUp(ctx context.Context, from, to uint64) (reached, saved uint64, ok bool) {
	saved = from
	for from < to {
		recs, next, ok := a.readEnded(ctx, from, to, a.p.CatchUpBatch)
		if !ok {
			return from, saved, false
		}
		for _, rec := range recs {
			if !a.archiveRecord(ctx, rec) {
				return from, saved, false
			}
		}
		from = next
		if a.save(ctx, from) {
			saved = from
		}
	}
	return from, saved, true
}

// readEnded reads up to limit records that ended after revision from and
// no later than to; next is the revision it read up to.
func (a *Archiver) readEnded(ctx context.Context, from, to uint64, limit int) (recs []job.Record, next uint64, ok bool) {
	watcher, err := a.p.Records.WatchAll(ctx, jetstream.ResumeFromRevision(from+1), jetstream.IncludeHistory())
	if err != nil {
		a.log.Warn("reading the record bucket failed; retrying", zap.Error(err))
		return nil, from, false
	}
	defer func() { _ = watcher.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return nil, from, false
		case e, open := <-watcher.Updates():
			switch {
			case !open:
				return nil, from, false
			case e == nil || e.Revision() > to:
				// Caught up: the bucket was at or past to when the watch began.
				return recs, to, true
			}
			if rec, ended := endedRecord(e); ended {
				recs = append(recs, rec)
			}
			if len(recs) >= limit || e.Revision() == to {
				return recs, e.Revision(), true
			}
		}
	}
}

// endedRecord decodes an entry that holds an ended job's record.
func endedRecord(e jetstream.KeyValueEntry) (job.Record, bool) {
	if e.Operation() != jetstream.KeyValuePut {
		return job.Record{}, false
	}
	rec, err := jobstore.Decode(e.Value())
	if err != nil || !index.Archivable(e.Key(), rec) {
		return job.Record{}, false // nothing to archive (junk is the index's to report)
	}
	return rec, true
}

// archiveRecord writes an ended record, retrying while S3 is down; false
// when ctx ended first.
func (a *Archiver) archiveRecord(ctx context.Context, rec job.Record) bool {
	body, err := encodeArchived(rec)
	if err != nil {
		return true
	}
	ctx, span := tracing.Tracer().Start(tracing.FromTraceparent(ctx, rec.Traceparent), "supervisor.archive",
		trace.WithAttributes(attribute.String("job_id", rec.JobID), attribute.String("key", s3layout.RecordKey(rec.JobID))))
	defer span.End()
	pause := lifecycle.Policy{Backoff: backoff.Policy{Base: 500 * time.Millisecond, Max: 30 * time.Second, Jitter: 0.2},
		OnRetry: func(attempt int, err error, _ time.Duration) {
			if attempt == 1 || attempt%10 == 0 {
				a.log.Warn("archiving a record to S3 failed; retrying", append(tracing.LogFields(ctx),
					zap.String("job_id", rec.JobID), zap.Int("attempt", attempt), zap.Error(err))...)
			}
		}}
	err = lifecycle.Retry(ctx, pause, func(ctx context.Context) error {
		_, err := a.p.S3.PutObject(ctx, a.p.Bucket, s3layout.RecordKey(rec.JobID), bytes.NewReader(body), int64(len(body)),
			minio.PutObjectOptions{ContentType: "application/json"})
		if err != nil {
			a.failures.Add(1)
		}
		return err
	})
	if err != nil {
		return false
	}
	a.archived.Add(1)
	return true
}

func (a *Archiver) checkpoint(ctx context.Context) (uint64, error) {
	e, err := a.p.State.Get(ctx, checkpointKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return decodeCheckpoint(e.Value())
}

// decodeCheckpoint reads the checkpoint as encodeCheckpoint wrote it: a
// revision, 8 bytes big-endian.
func decodeCheckpoint(value []byte) (uint64, error) {
	if len(value) != 8 {
		return 0, fmt.Errorf("checkpoint of %d bytes, want 8", len(value))
	}
	return binary.BigEndian.Uint64(value), nil
}

func encodeCheckpoint(rev uint64) []byte { return binary.BigEndian.AppendUint64(nil, rev) }

func (a *Archiver) save(ctx context.Context, rev uint64) bool {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := a.p.State.Put(ctx, checkpointKey, encodeCheckpoint(rev)); err != nil {
		a.log.Warn("saving the archive checkpoint failed", zap.Uint64("revision", rev), zap.Error(err))
		return false
	}
	return true
}

// Lookup reads an archived record: ok is false when none was archived.
func Lookup(ctx context.Context, s3 *minio.Client, bucket, jobID string) (rec job.Record, ok bool, err error) {
	// A job id is one NATS token; anything with a slash would name another
	// key of the bucket.
	if !bus.ValidToken(jobID) || strings.Contains(jobID, "/") {
		return rec, false, nil
	}
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

// maxArchivedBytes bounds a job.json as read back. Whoever may write to
// the bucket may put anything there; the archive writes a record of at
// most jobstore.MaxRecordBytes, indented, which at most doubles it.
const maxArchivedBytes = 2 * jobstore.MaxRecordBytes

// errArchivedTooLarge: a job.json over maxArchivedBytes, refused unread.
var errArchivedTooLarge = errors.New("archived record over the size limit")

// encodeArchived is the job.json the archive writes for a record.
func encodeArchived(rec job.Record) ([]byte, error) {
	return json.MarshalIndent(rec.Public(), "", "  ")
}

// decodeArchived reads a job.json, which must be one record, of the job
// it is filed under, within maxArchivedBytes. S3's own errors come back
// unwrapped, so a caller can tell a missing key.
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
