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

// Ended records reach S3 as job.json, records of running jobs do not; a
// new pass (a restart, a new leader) starts at the checkpoint and archives
// only what ended since.
func TestArchivesEndedRecordsFromTheCheckpoint(t *testing.T) {
	f := newFixture(t)
	ctx, store, state, m, s3, idx := f.ctx, f.store, f.state, f.minio, f.s3, f.idx
	end := func(id string, status job.Status) {
		t.Helper()
		_, err := store.Create(ctx, job.Record{JobID: id, Status: job.StatusQueued, Spec: job.Spec{Prompt: "p " + id}})
		require.NoError(t, err)
		if status == job.StatusQueued {
			return
		}
		_, err = store.Update(ctx, id, func(r *job.Record) error { r.Status = job.StatusProcessing; return nil })
		require.NoError(t, err)
		if status == job.StatusProcessing {
			return
		}
		_, err = store.Update(ctx, id, func(r *job.Record) error {
			r.Status = status
			r.Delivery = &job.Delivery{StreamSeq: 1, Delivered: 1, Runner: "r", AckSubject: "$JS.ACK.secret"}
			return nil
		})
		require.NoError(t, err)
	}
	end("done", job.StatusCompleted)
	end("broken", job.StatusFailed)
	end("running", job.StatusProcessing)
	end("waiting", job.StatusQueued)

	run := func(a *Archiver, until func() bool) {
		t.Helper()
		passCtx, stop := context.WithCancel(ctx)
		finished := make(chan struct{})
		go func() { defer close(finished); a.Pass(passCtx) }()
		require.Eventually(t, until, 20*time.Second, 50*time.Millisecond)
		stop()
		<-finished
	}
	params := Params{Ended: idx, Records: store.KV(), State: state, S3: s3, Bucket: m.Config.Bucket, SaveEvery: 50 * time.Millisecond,
		CatchUpBatch: 1, Logger: zaptest.NewLogger(t)} // the catch-up reads the bucket a record at a time
	first := New(params)
	run(first, func() bool { return first.Archived() == 2 })

	for id, want := range map[string]bool{"done": true, "broken": true, "running": false, "waiting": false} {
		rec, ok, err := Lookup(ctx, s3, m.Config.Bucket, id)
		require.NoError(t, err)
		require.Equal(t, want, ok, id)
		if ok {
			require.Equal(t, id, rec.JobID)
			require.Equal(t, "p "+id, rec.Spec.Prompt)
			require.Empty(t, rec.Delivery.AckSubject, "the archive never holds an ack subject")
		}
	}
	_, ok, err := Lookup(ctx, s3, m.Config.Bucket, "../other")
	require.NoError(t, err)
	require.False(t, ok)

	// The running job ends; a new archiver starts at the checkpoint and
	// archives that one alone.
	_, err = store.Update(ctx, "running", func(r *job.Record) error { r.Status = job.StatusCompleted; return nil })
	require.NoError(t, err)
	second := New(params)
	run(second, func() bool {
		_, ok, _ := Lookup(ctx, s3, m.Config.Bucket, "running")
		return ok
	})
	require.Equal(t, int64(1), second.Archived(), "only what ended since the checkpoint")
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

// Records that end while S3 holds the archiver's requests overflow the
// index's feed; the archiver then reads what it missed from the bucket,
// from its checkpoint, and archives every one of them.
func TestArchiverThatFellBehindReadsTheBucket(t *testing.T) {
	f := newFixture(t)
	ctx, store, m := f.ctx, f.store, f.minio
	var arrived atomic.Int64
	release := make(chan struct{})
	held, err := minio.New(m.Config.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(m.Config.AccessKey, m.Config.SecretKey, ""),
		Region: "us-east-1", Transport: heldS3{arrived: &arrived, release: release}})
	require.NoError(t, err)
	a := New(Params{Ended: f.idx, Records: store.KV(), State: f.state, S3: held, Bucket: m.Config.Bucket, SaveEvery: 50 * time.Millisecond,
		FeedLimit: 2, Logger: zaptest.NewLogger(t)})
	passCtx, stop := context.WithCancel(ctx)
	finished := make(chan struct{})
	go func() { // as the leader's loop does
		defer close(finished)
		for passCtx.Err() == nil {
			a.Pass(passCtx)
		}
	}()
	defer func() { stop(); <-finished }()

	const jobs = 12
	end := func(id string) {
		t.Helper()
		_, err := store.Create(ctx, job.Record{JobID: id, Status: job.StatusQueued})
		require.NoError(t, err)
		for _, status := range []job.Status{job.StatusProcessing, job.StatusCompleted} {
			_, err = store.Update(ctx, id, func(r *job.Record) error { r.Status = status; return nil })
			require.NoError(t, err)
		}
	}
	// The first ended job sends the archiver to S3 (by its feed, or by
	// the bucket when the feed began later): from then on its feed is
	// open and the archiver stuck.
	end("j00")
	require.Eventually(t, func() bool { return arrived.Load() > 0 }, 10*time.Second, 10*time.Millisecond,
		"the archiver's first request reached S3")
	for i := 1; i < jobs; i++ {
		end(fmt.Sprintf("j%02d", i))
	}
	lastEnd, err := store.KV().Get(ctx, fmt.Sprintf("j%02d", jobs-1))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return f.idx.Revision() >= lastEnd.Revision() }, 10*time.Second, 10*time.Millisecond,
		"the index saw every job end")
	close(release)
	require.Eventually(t, func() bool { return a.Archived() >= jobs }, 40*time.Second, 50*time.Millisecond)
	require.Positive(t, a.FeedsLost(), "%d jobs ended while S3 held the archiver overflow a feed of 2", jobs)
	for i := range jobs {
		_, ok, err := Lookup(ctx, f.s3, m.Config.Bucket, fmt.Sprintf("j%02d", i))
		require.NoError(t, err)
		require.True(t, ok, "job j%02d archived", i)
	}
}
