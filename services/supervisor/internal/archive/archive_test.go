package archive

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"cyberimage/services/supervisor/internal/index"
	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
	"cyberimage/shared/testenv"
)

// fixture is what an archiver works against: a provisioned NATS with the
// record store and the supervisor's state bucket, a MinIO with the bucket,
// and an index following the records.
type fixture struct {
	ctx   context.Context
	store *jobstore.Store
	state jetstream.KeyValue
	minio *testenv.MinIO
	s3    *minio.Client
	idx   *index.Index
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	n := testenv.StartNATS(t)
	_, js := n.Provisioned(t)
	f := fixture{minio: testenv.StartMinIO(t)}
	f.s3 = f.minio.Client(t) // makes the bucket
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	f.ctx = ctx
	var err error
	f.store, err = jobstore.Open(ctx, js)
	require.NoError(t, err)
	f.state, err = js.KeyValue(ctx, bus.BucketSupervisor)
	require.NoError(t, err)
	f.idx = index.New(f.store.KV(), zaptest.NewLogger(t))
	require.NoError(t, f.idx.Start(ctx))
	t.Cleanup(func() { _ = f.idx.Stop(context.Background()) })
	<-f.idx.Ready()
	return f
}

// params are an archiver's over the fixture, with short intervals.
func (f fixture) params(t *testing.T) Params {
	return Params{Ended: f.idx, Records: f.store.KV(), State: f.state, S3: f.s3, Bucket: f.minio.Config.Bucket,
		FlushInterval: 20 * time.Millisecond, IndexInterval: 50 * time.Millisecond, Logger: zaptest.NewLogger(t)}
}

// end takes a job through to status (queued, processing, or an end).
func (f fixture) end(t *testing.T, id string, status job.Status) {
	t.Helper()
	_, err := f.store.Create(f.ctx, job.Record{JobID: id, Status: job.StatusQueued, Spec: job.Spec{Prompt: "p " + id}})
	require.NoError(t, err)
	if status == job.StatusQueued {
		return
	}
	_, err = f.store.Update(f.ctx, id, func(r *job.Record) error { r.Status = job.StatusProcessing; return nil })
	require.NoError(t, err)
	if status == job.StatusProcessing {
		return
	}
	_, err = f.store.Update(f.ctx, id, func(r *job.Record) error {
		r.Status = status
		r.Delivery = &job.Delivery{StreamSeq: 1, Delivered: 1, Runner: "r", AckSubject: "$JS.ACK.secret"}
		return nil
	})
	require.NoError(t, err)
}

// seen waits until the index has seen job id's last write.
func (f fixture) seen(t *testing.T, id string) {
	t.Helper()
	e, err := f.store.KV().Get(f.ctx, id)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return f.idx.Revision() >= e.Revision() }, 10*time.Second, 5*time.Millisecond,
		"the index saw %s at revision %d", id, e.Revision())
}

// lookup reads a job's archived record through the fixture's client.
func (f fixture) lookup(t *testing.T, id string) (job.Record, bool) {
	t.Helper()
	rec, ok, err := Lookup(f.ctx, f.s3, f.minio.Config.Bucket, id)
	require.NoError(t, err)
	return rec, ok
}

// run starts an archiver, waits until the condition holds, and stops it.
func run(t *testing.T, a *Archiver, until func() bool, msg string) {
	t.Helper()
	require.NoError(t, a.Start(context.Background()))
	defer func() { require.NoError(t, a.Stop(context.Background())) }()
	require.Eventually(t, until, 20*time.Second, 10*time.Millisecond, msg)
}

// Ended records reach S3 and are found by id, records of running jobs are
// not; a new archiver (a restart, a new leader) starts at the checkpoint
// and archives only what ended since.
func TestArchivesEndedRecordsFromTheCheckpoint(t *testing.T) {
	f := newFixture(t)
	f.end(t, "done", job.StatusCompleted)
	f.end(t, "broken", job.StatusFailed)
	f.end(t, "running", job.StatusProcessing)
	f.end(t, "waiting", job.StatusQueued)

	params := f.params(t)
	params.CatchUpBatch = 1 // the catch-up reads the bucket a record at a time
	first := New(params)
	run(t, first, func() bool { _, ok := f.lookup(t, "broken"); return ok }, "the first archiver indexed both ended jobs")
	require.Equal(t, int64(2), first.Archived())

	for id, want := range map[string]bool{"done": true, "broken": true, "running": false, "waiting": false} {
		rec, ok := f.lookup(t, id)
		require.Equal(t, want, ok, id)
		if ok {
			require.Equal(t, id, rec.JobID)
			require.Equal(t, "p "+id, rec.Spec.Prompt)
			require.Empty(t, rec.Delivery.AckSubject, "the archive never holds an ack subject")
		}
	}
	_, ok := f.lookup(t, "../other")
	require.False(t, ok)

	// The running job ends; a new archiver starts at the checkpoint and
	// archives that one alone.
	_, err := f.store.Update(f.ctx, "running", func(r *job.Record) error { r.Status = job.StatusCompleted; return nil })
	require.NoError(t, err)
	second := New(f.params(t))
	run(t, second, func() bool { _, ok := f.lookup(t, "running"); return ok }, "the second archiver indexed the job that ended")
	require.Equal(t, int64(1), second.Archived(), "only what ended since the checkpoint")
}

// Records that end together share one segment (one PUT), and the index
// pages are written once for many segments: the S3 writes per job are far
// below one.
func TestSegmentsCostFarLessThanAPutPerJob(t *testing.T) {
	f := newFixture(t)
	params := f.params(t)
	params.FlushInterval, params.IndexInterval = time.Hour, time.Hour // only size and Stop write
	params.SegmentRecords = 25
	a := New(params)
	require.NoError(t, a.Start(context.Background()))
	const jobs = 100
	for i := range jobs {
		f.end(t, fmt.Sprintf("job-%03d", i), job.StatusCompleted)
	}
	require.Eventually(t, func() bool { return a.Archived() == jobs }, 20*time.Second, 10*time.Millisecond)
	require.Equal(t, int64(jobs/25), a.Segments(), "a segment per 25 records")
	require.Zero(t, a.PagesWritten(), "the index waits for its interval")
	require.NoError(t, a.Stop(context.Background()), "stopping indexes what is archived")
	require.LessOrEqual(t, a.PagesWritten(), int64(64), "at most one write per index page")
	for i := range jobs {
		_, ok := f.lookup(t, fmt.Sprintf("job-%03d", i))
		require.True(t, ok, "job-%03d found", i)
	}
}

// heldS3 holds every request to S3 until it is let go: an archiver behind
// it falls behind the index. It counts the requests that reached it.
type heldS3 struct {
	arrived *atomic.Int64
	release <-chan struct{}
}

func (s heldS3) RoundTrip(r *http.Request) (*http.Response, error) {
	s.arrived.Add(1)
	select {
	case <-s.release:
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
	return http.DefaultTransport.RoundTrip(r)
}

// client is a MinIO client of the fixture's server over transport.
func (f fixture) client(t *testing.T, transport http.RoundTripper) *minio.Client {
	t.Helper()
	m := f.minio
	c, err := minio.New(m.Config.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(m.Config.AccessKey, m.Config.SecretKey, ""),
		Region: "us-east-1", Transport: transport})
	require.NoError(t, err)
	return c
}

// Records that end while S3 holds the archiver's requests overflow the
// index's feed; the archiver then reads what it missed from the bucket,
// from its checkpoint, and archives every one of them.
func TestArchiverThatFellBehindReadsTheBucket(t *testing.T) {
	f := newFixture(t)
	var arrived atomic.Int64
	release := make(chan struct{})
	params := f.params(t)
	params.S3, params.FeedLimit, params.SegmentRecords = f.client(t, heldS3{arrived: &arrived, release: release}), 2, 1
	a := New(params)
	require.NoError(t, a.Start(context.Background()))
	defer func() { require.NoError(t, a.Stop(context.Background())) }()

	const jobs = 12
	// The first ended job sends the archiver to S3 (by its feed, or by
	// the bucket when the feed began later): from then on its feed is
	// open and the archiver stuck.
	f.end(t, "j00", job.StatusCompleted)
	require.Eventually(t, func() bool { return arrived.Load() > 0 }, 10*time.Second, 10*time.Millisecond,
		"the archiver's first request reached S3")
	for i := 1; i < jobs; i++ {
		f.end(t, fmt.Sprintf("j%02d", i), job.StatusCompleted)
	}
	f.seen(t, fmt.Sprintf("j%02d", jobs-1))
	close(release)
	require.Eventually(t, func() bool {
		for i := range jobs {
			if _, ok := f.lookup(t, fmt.Sprintf("j%02d", i)); !ok {
				return false
			}
		}
		return true
	}, 40*time.Second, 20*time.Millisecond, "every job archived and indexed")
	require.Positive(t, a.FeedsLost(), "%d jobs ended while S3 held the archiver overflow a feed of 2", jobs)
}
