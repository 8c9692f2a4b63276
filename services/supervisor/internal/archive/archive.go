// Package archive keeps each ended job's final record in S3, so it
// outlives its retention in KV: the supervisor serves it from there, and a
// person browsing the bucket can read it.
//
// Records go to S3 in segments (archive/segments/<from>-<to>.ndjson.gz,
// gzip'd NDJSON named by the revisions they hold), one PUT per
// FlushInterval or per SegmentRecords records instead of one per job, and
// index pages (archive/index/<page>.tsv.gz) say where each record is, so a
// lookup by id costs two reads: segment.go, pages.go, lookup.go.
//
// The leader takes ended records from the index, which follows and decodes
// the record bucket anyway, so each record write is read and decoded once
// by the supervisor. A checkpoint in KV (the last revision archived and
// indexed) lets a restart or a new leader carry on where the last one
// stopped: what ended between the checkpoint and the index's revision is
// read from the bucket once, then the index's feed takes over. It may
// archive a record twice after a crash (in a segment of the same name and
// content, or in another one the index then points to), never skip one
// while it is in KV.
package archive

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"cyberimage/services/supervisor/internal/follow"
	"cyberimage/shared/defaults"
	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
	"cyberimage/shared/lifecycle"
)

// Params are what the Archiver needs.
type Params struct {
	Ended   follow.Source
	Records jetstream.KeyValue // the job records, read to catch up
	State   jetstream.KeyValue // where the checkpoint is kept
	S3      *minio.Client
	Bucket  string
	// FlushInterval is the longest an ended record waits for others before
	// its segment is written (default 1s).
	FlushInterval time.Duration
	// SegmentRecords: a segment is written as soon as it holds this many
	// records (default 1000).
	SegmentRecords int
	// IndexInterval is how often the index pages are brought up to date
	// with the segments written since, and the checkpoint saved (default
	// 1m). It must be well within the records' retention: until then a
	// crash makes the next leader archive them again from KV.
	IndexInterval time.Duration
	// Retention is the records' time in KV: IndexInterval is cut to a
	// quarter of the shortest, so a record is indexed (and the checkpoint
	// past it) long before it leaves KV.
	Retention jobstore.Retention
	// MaxPending: the index is brought up to date at once when this many
	// archived records wait for it, which bounds what the archiver holds
	// (default 20,000).
	MaxPending int
	// JobJSON also writes each record as images/<job_id>/job.json, one PUT
	// per job, for people browsing the bucket by job.
	JobJSON bool
	// FeedLimit bounds the ended records waiting for S3 (while it is down,
	// say) before the archiver drops the feed and reads the bucket later
	// instead.
	FeedLimit int
	// CatchUpBatch bounds the ended records a catch-up holds at once: it
	// reads that many from the bucket, stops reading, archives and indexes
	// them, and reads on.
	CatchUpBatch int
	Logger       *zap.Logger
}

// Archiver is the leader's archive: a lifecycle.Component.
type Archiver struct {
	p    Params
	log  *zap.Logger
	loop *lifecycle.Loop

	archived atomic.Int64
	segments atomic.Int64
	pages    atomic.Int64
	lost     atomic.Int64

	// What one session holds; only the loop's goroutine touches it.
	seg     *segment
	spans   []trace.Span // one per record in seg
	records []job.Record // seg's records, when JobJSON
	pend    pending
	taken   uint64 // every record that ended up to here is written or in seg
	saved   uint64 // the checkpoint
}

// New makes an archiver; nothing runs until Start.
func New(p Params) *Archiver {
	p.FlushInterval = defaults.Positive(p.FlushInterval, time.Second)
	p.SegmentRecords = defaults.Positive(p.SegmentRecords, 1000)
	p.IndexInterval = defaults.Positive(p.IndexInterval, time.Minute)
	for _, ttl := range []time.Duration{p.Retention.Record, p.Retention.Failed} {
		if ttl > 0 {
			p.IndexInterval = max(min(p.IndexInterval, ttl/4), 10*time.Millisecond)
		}
	}
	p.MaxPending = defaults.Positive(p.MaxPending, 20_000)
	p.FeedLimit = defaults.Positive(p.FeedLimit, 10_000)
	p.CatchUpBatch = defaults.Positive(p.CatchUpBatch, 1000)
	a := &Archiver{p: p, log: p.Logger.Named("archive"), seg: newSegment()}
	a.loop = lifecycle.NewLoop(0, a.Run)
	return a
}

// Start runs the archive in the background; it begins at once, so a new
// leader does not leave records to pile up.
func (a *Archiver) Start(ctx context.Context) error { return a.loop.Start(ctx) }

// Stop ends the session in progress, which writes and indexes what it
// holds (for up to finishTimeout) and saves the checkpoint, and waits for
// it within ctx.
func (a *Archiver) Stop(ctx context.Context) error { return a.loop.Stop(ctx) }

// Archived counts records written to S3 by this process.
func (a *Archiver) Archived() int64 { return a.archived.Load() }

// Segments counts segments written by this process.
func (a *Archiver) Segments() int64 { return a.segments.Load() }

// PagesWritten counts index page writes by this process.
func (a *Archiver) PagesWritten() int64 { return a.pages.Load() }

// FeedsLost counts the times the archiver fell so far behind the index
// that it read the bucket to catch up.
func (a *Archiver) FeedsLost() int64 { return a.lost.Load() }

// Run archives until ctx ends (the lease is lost or the supervisor
// stops): one session after another, each from the checkpoint; a session
// that failed (S3 or NATS down past ctx, the checkpoint unreadable) is
// tried again after a backoff.
func (a *Archiver) Run(ctx context.Context) {
	for ctx.Err() == nil {
		_ = lifecycle.Retry(ctx, a.policy("an archive session failed; starting again from the checkpoint"), a.session)
	}
}

// policy is how the archiver retries: follow.Retry, logging what.
func (a *Archiver) policy(what string) lifecycle.Policy { return follow.Retry(a.log, what) }

// session archives from the checkpoint: first what ended before the
// index's feed began, read from the bucket, then the feed, until ctx ends
// or the feed is lost (nil: start again at once).
func (a *Archiver) session(ctx context.Context) error {
	from, _, err := a.checkpoint().Load(ctx)
	if err != nil {
		return fmt.Errorf("read the archive checkpoint: %w", err)
	}
	a.reset(from)
	feed, fed := a.p.Ended.FollowEnded(a.p.FeedLimit, from)
	defer a.p.Ended.Unfollow(feed)
	defer a.finish(ctx)
	if from < fed {
		if err := a.catchUp(ctx, from, fed); err != nil {
			return err
		}
	}
	flush := time.NewTicker(a.p.FlushInterval)
	defer flush.Stop()
	reindex := time.NewTicker(a.p.IndexInterval)
	defer reindex.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-feed.Signal():
			items, covered, lost := feed.Take()
			if lost {
				a.lost.Add(1)
				a.log.Info("the archive fell behind the index's feed; reading the bucket from its checkpoint")
				return nil
			}
			for _, e := range items {
				if err := a.add(ctx, e.Revision, e.Record); err != nil {
					return err
				}
			}
			a.taken = max(a.taken, covered)
		case <-flush.C:
			err = a.flush(ctx)
		case <-reindex.C:
			err = a.index(ctx)
		}
		if err != nil {
			return err
		}
	}
}

// reset starts a session's state at the checkpoint.
func (a *Archiver) reset(from uint64) {
	a.endSpans()
	a.seg.sealed("")
	a.records, a.pend, a.taken, a.saved = nil, pending{}, from, from
}

// catchUp archives the records that ended after revision from, up to and
// including revision to, reading them from the bucket a batch at a time
// and indexing them and saving the checkpoint after each, so a long
// catch-up (a bucket this leader never archived) keeps its progress
// through a crash.
func (a *Archiver) catchUp(ctx context.Context, from, to uint64) error {
	for from < to {
		// A batch is read whole, its watch closed, before any of it is
		// archived: archiving may wait out an S3 outage.
		batch, next, err := follow.ReadEnded(ctx, a.p.Records, from, to, a.p.CatchUpBatch)
		if err != nil {
			return err
		}
		for _, e := range batch {
			if err := a.add(ctx, e.Revision, e.Record); err != nil {
				return err
			}
		}
		a.taken, from = next, next
		if err := a.index(ctx); err != nil {
			return err
		}
	}
	return nil
}
