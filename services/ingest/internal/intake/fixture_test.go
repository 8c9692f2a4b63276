package intake

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"cyberimage/shared/bus"
	"cyberimage/shared/jobstore"
	"cyberimage/shared/models"
	"cyberimage/shared/natsauth"
	"cyberimage/shared/testenv"
)

// bundle is ingest's processor on an in-process server without auth: the
// fixture of every test here but the quota tests (quotaBundle).
type bundle struct {
	nc *nats.Conn
	// client submits requests, with a client's inbox: the only kind of
	// reply subject ingest answers.
	client *nats.Conn
	js     jetstream.JetStream
	store  *jobstore.Store
	// catalog is the repository's models, read from disk once per setup.
	catalog *models.Catalog
	stats   *Stats
	start   func()
	stop    func()
}

func setup(t *testing.T) *bundle {
	t.Helper()
	n := testenv.StartNATS(t)
	nc, js := n.Provisioned(t, "demo")
	client, _ := n.ConnectAs(t, natsauth.Client)
	ctx := context.Background()
	store, err := jobstore.Open(ctx, js)
	require.NoError(t, err)
	b := &bundle{nc: nc, client: client, js: js, store: store, catalog: mustCatalog(t), stats: &Stats{}}
	var proc *Processor
	b.start = func() {
		p := params(t, nc, js, store, b.catalog)
		p.Concurrency, p.Stats = 4, b.stats
		proc = New(p)
		require.NoError(t, proc.Start(ctx))
	}
	b.stop = func() { _ = proc.Stop(ctx) }
	return b
}

func (b *bundle) request(t *testing.T, payload string) answer {
	t.Helper()
	msg, err := b.client.Request(bus.SubjectRequests, []byte(payload), 5*time.Second)
	require.NoError(t, err)
	var a answer
	require.NoError(t, json.Unmarshal(msg.Data, &a), string(msg.Data))
	return a
}

func jobsPending(t *testing.T, js jetstream.JetStream) uint64 {
	t.Helper()
	s, err := js.Stream(context.Background(), bus.StreamJobs)
	require.NoError(t, err)
	info, err := s.Info(context.Background())
	require.NoError(t, err)
	return info.State.Msgs
}

// forgetful shortens the jobs stream's dedup window to 100 ms, so a test
// can wait it out (waitDedupForgets), and makes a processor whose admit
// the test calls itself, as for a redelivered request.
func (b *bundle) forgetful(t *testing.T) (jetstream.Stream, *Processor) {
	t.Helper()
	ctx := context.Background()
	stream, err := b.js.Stream(ctx, bus.StreamJobs)
	require.NoError(t, err)
	cfg := stream.CachedInfo().Config
	cfg.Duplicates = 100 * time.Millisecond
	_, err = b.js.UpdateStream(ctx, cfg)
	require.NoError(t, err)
	return stream, New(params(t, b.nc, b.js, b.store, b.catalog))
}

// waitDedupForgets waits until the jobs stream has forgotten the message
// ids published so far. It publishes a probe and publishes it again until
// the stream takes it as new: the probe's id, the newest, has then left
// the dedup window, and every older id with it. The probe is purged.
func waitDedupForgets(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	ctx := context.Background()
	subject := bus.JobSubject("demo", "dedup-probe")
	accepted := func() bool {
		ack, err := js.Publish(ctx, subject, nil, jetstream.WithMsgID("dedup-probe"))
		require.NoError(t, err)
		return !ack.Duplicate
	}
	require.True(t, accepted(), "the probe's first publish")
	require.Eventually(t, accepted, 10*time.Second, 20*time.Millisecond, "the stream never forgot the probe's id")
	stream, err := js.Stream(ctx, bus.StreamJobs)
	require.NoError(t, err)
	require.NoError(t, stream.Purge(ctx, jetstream.WithPurgeSubject(subject)))
}

// params are a processor's Params on this server and store, with catalog
// (the repository's models, which its setup loaded once), one request at a
// time and nothing counted; a test changes what it is about.
func params(t *testing.T, nc *nats.Conn, js jetstream.JetStream, store *jobstore.Store, catalog *models.Catalog) Params {
	t.Helper()
	return Params{NC: nc, JS: js, Store: store, Models: catalog, Concurrency: 1, Logger: zaptest.NewLogger(t)}
}

// mustCatalog reads the repository's models from disk.
func mustCatalog(t *testing.T) *models.Catalog {
	t.Helper()
	c, err := models.Load(testenv.RepoRoot(t)+"/infra/models", "")
	require.NoError(t, err)
	return c
}

func dropped(s *Stats, kind string) uint64 {
	for _, c := range s.Drops.Counts() {
		if c.Kind == kind {
			return c.Count
		}
	}
	return 0
}
