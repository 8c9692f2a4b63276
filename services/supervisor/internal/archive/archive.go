// Package archive copies each ended job's final record to S3, next to its
// images (images/<job_id>/job.json), so the record outlives its retention
// in KV: the supervisor serves it from there, and a person browsing the
// bucket sees each job's prompt, settings and timings.
//
// The leader follows the record bucket from a checkpoint kept in KV (the
// last revision archived), so a restart or a new leader carries on where
// the last one stopped, without reading the whole bucket; it may archive a
// few records twice after a crash (the same content again), never skip one.
package archive

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"cyberimage/shared/backoff"
	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
	"cyberimage/shared/objectstore"
	"cyberimage/shared/s3layout"
	"cyberimage/shared/tracing"
)

// checkpointKey holds the last revision of the record bucket archived.
const checkpointKey = "archive-revision"

// Params are what the Archiver needs.
type Params struct {
	Records jetstream.KeyValue // the job records
	State   jetstream.KeyValue // where the checkpoint is kept
	S3      *minio.Client
	Bucket  string
	// SaveEvery is how often the checkpoint is written while records flow.
	SaveEvery time.Duration
	Logger    *zap.Logger
}

// Archiver is the leader's archive loop.
type Archiver struct {
	p        Params
	log      *zap.Logger
	archived atomic.Int64
	failures atomic.Int64
}

// New makes an archiver.
func New(p Params) *Archiver {
	if p.SaveEvery <= 0 {
		p.SaveEvery = 2 * time.Second
	}
	return &Archiver{p: p, log: p.Logger.Named("archive")}
}

// Archived counts records written to S3 by this process.
func (a *Archiver) Archived() int64 { return a.archived.Load() }

// Pass follows the bucket from the checkpoint until ctx ends (the lease is
// lost or the supervisor stops), archiving every ended record it sees.
func (a *Archiver) Pass(ctx context.Context) {
	from, err := a.checkpoint(ctx)
	if err != nil {
		a.log.Warn("reading the archive checkpoint failed; retrying", zap.Error(err))
		return
	}
	watcher, err := a.p.Records.WatchAll(ctx, jetstream.ResumeFromRevision(from+1), jetstream.IncludeHistory())
	if err != nil {
		a.log.Warn("following the record bucket failed; retrying", zap.Error(err))
		return
	}
	defer func() { _ = watcher.Stop() }()
	saved, last := from, from
	save := time.NewTicker(a.p.SaveEvery)
	defer save.Stop()
	defer func() {
		if last != saved {
			a.save(context.WithoutCancel(ctx), last)
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-save.C:
			if last != saved && a.save(ctx, last) {
				saved = last
			}
		case e, ok := <-watcher.Updates():
			if !ok {
				return // the loop calls Pass again
			}
			if e == nil {
				continue
			}
			if e.Operation() == jetstream.KeyValuePut && !a.archive(ctx, e) {
				return // ctx ended while S3 was down: carry on from last
			}
			last = e.Revision()
		}
	}
}

// archive writes one entry's record if it ended, retrying while S3 is down;
// false when ctx ended first.
func (a *Archiver) archive(ctx context.Context, e jetstream.KeyValueEntry) bool {
	rec, err := jobstore.Decode(e.Value())
	if err != nil || !rec.Status.Terminal() || rec.JobID != e.Key() {
		return true // nothing to archive (junk is the index's to report)
	}
	body, err := json.MarshalIndent(rec.Public(), "", "  ")
	if err != nil {
		return true
	}
	ctx, span := tracing.Tracer().Start(tracing.FromTraceparent(ctx, rec.Traceparent), "supervisor.archive",
		trace.WithAttributes(attribute.String("job_id", rec.JobID), attribute.String("key", s3layout.RecordKey(rec.JobID))))
	defer span.End()
	pause := backoff.Policy{Base: 500 * time.Millisecond, Max: 30 * time.Second, Jitter: 0.2}
	for attempt := 1; ; attempt++ {
		_, err := a.p.S3.PutObject(ctx, a.p.Bucket, s3layout.RecordKey(rec.JobID), bytes.NewReader(body), int64(len(body)),
			minio.PutObjectOptions{ContentType: "application/json"})
		if err == nil {
			a.archived.Add(1)
			return true
		}
		a.failures.Add(1)
		if attempt == 1 || attempt%10 == 0 {
			a.log.Warn("archiving a record to S3 failed; retrying", append(tracing.LogFields(ctx),
				zap.String("job_id", rec.JobID), zap.Int("attempt", attempt), zap.Error(err))...)
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(pause.Delay(attempt)):
		}
	}
}

func (a *Archiver) checkpoint(ctx context.Context) (uint64, error) {
	e, err := a.p.State.Get(ctx, checkpointKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if len(e.Value()) != 8 {
		return 0, fmt.Errorf("checkpoint of %d bytes, want 8", len(e.Value()))
	}
	return binary.BigEndian.Uint64(e.Value()), nil
}

func (a *Archiver) save(ctx context.Context, rev uint64) bool {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := a.p.State.Put(ctx, checkpointKey, binary.BigEndian.AppendUint64(nil, rev)); err != nil {
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
	if err := json.NewDecoder(obj).Decode(&rec); err != nil {
		if objectstore.ErrorCode(err) == "NoSuchKey" {
			return rec, false, nil
		}
		return rec, false, fmt.Errorf("archived record %s: %w", jobID, err)
	}
	if rec.JobID != jobID {
		return rec, false, fmt.Errorf("archived record %s names job %q", jobID, rec.JobID)
	}
	return rec, true, nil
}
