package intake

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"cyberimage/services/ingest/internal/tally"
	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
	"cyberimage/shared/models"
	"cyberimage/shared/natsauth"
	"cyberimage/shared/quota"
	"cyberimage/shared/testenv"
)

// quotaBundle runs ingest with quotas on a server with auth, with
// ingest's own rights (watching the records is one of them), and clients
// that publish on their own subjects.
type quotaBundle struct {
	n     *testenv.NATS
	js    jetstream.JetStream
	nc    *nats.Conn
	store *jobstore.Store
	// catalog is the repository's models, read from disk once per setup.
	catalog *models.Catalog
	limits  quota.Table
	stats   *Stats
	tally   *tally.Tally
	proc    *Processor
}

func setupQuotas(t *testing.T, limits string) *quotaBundle {
	t.Helper()
	table, err := quota.Parse(limits)
	require.NoError(t, err)
	n := testenv.StartNATSWithAuth(t)
	n.Provisioned(t, "demo")
	nc, js := n.ConnectAs(t, natsauth.Ingest)
	store, err := jobstore.Open(context.Background(), js)
	require.NoError(t, err)
	b := &quotaBundle{n: n, js: js, nc: nc, store: store, catalog: mustCatalog(t), limits: table, stats: &Stats{}}
	b.start(t)
	t.Cleanup(b.stop)
	return b
}

// start starts a fresh tally and processor, as a restarted ingest would.
func (b *quotaBundle) start(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	b.tally = tally.New(b.store.KV(), b.limits, zaptest.NewLogger(t))
	require.NoError(t, b.tally.Start(ctx))
	p := params(t, b.nc, b.js, b.store, b.catalog)
	p.Concurrency, p.Stats, p.Quotas = 8, b.stats, b.tally
	b.proc = New(p)
	require.NoError(t, b.proc.Start(ctx))
}

func (b *quotaBundle) stop() {
	_ = b.proc.Stop(context.Background())
	_ = b.tally.Stop(context.Background())
}

// client connects as the client named name; it publishes on its own
// subject, or on the bare one when name is "default".
func (b *quotaBundle) client(t *testing.T, name string) func(payload string) answer {
	t.Helper()
	nc, _ := b.n.ConnectAsIdentity(t, natsauth.Client, name)
	subject := bus.RequestSubject(name)
	if name == bus.DefaultClient {
		subject = bus.SubjectRequests
	}
	return func(payload string) answer {
		t.Helper()
		msg, err := nc.Request(subject, []byte(payload), 5*time.Second)
		require.NoError(t, err)
		var a answer
		require.NoError(t, json.Unmarshal(msg.Data, &a), string(msg.Data))
		return a
	}
}

func requireRefused(t *testing.T, a answer, code job.Code) {
	t.Helper()
	require.Equal(t, job.StatusRejected, a.Status)
	require.NotNil(t, a.Error, "answer %+v", a)
	require.Equal(t, code, a.Error.Code)
	require.GreaterOrEqual(t, a.Error.RetryAfterS, 1)
	require.LessOrEqual(t, a.Error.RetryAfterS, 60)
}

func (b *quotaBundle) record(t *testing.T, id string) job.Record {
	t.Helper()
	rec, _, err := b.store.Get(context.Background(), id)
	require.NoError(t, err)
	return rec
}

// At the cap a request is refused with a retry hint and recorded under its
// request_id; a job a runner starts frees room, and the refused request
// sent again is queued under the same id.
func TestQuotaCapFreedByARunningJob(t *testing.T) {
	b := setupQuotas(t, "*=2/0")
	alice := b.client(t, "alice")
	first := alice(`{"prompt":"one"}`)
	require.Equal(t, job.StatusQueued, first.Status)
	require.Equal(t, job.StatusQueued, alice(`{"prompt":"two"}`).Status)

	over := alice(`{"prompt":"three","request_id":"alice-3"}`)
	requireRefused(t, over, job.CodeQuotaExceeded)
	require.Equal(t, int(tally.QueuedRetryAfter/time.Second), over.Error.RetryAfterS)
	require.Equal(t, job.IDForRequestID("alice-3"), over.JobID)
	rejected := b.record(t, over.JobID)
	require.Equal(t, job.StatusRejected, rejected.Status)
	require.Equal(t, "alice", rejected.Client)
	require.Equal(t, int64(1), b.stats.Rejected()[job.CodeQuotaExceeded])

	// A runner starts the first job, with its own rights.
	_, rjs := b.n.ConnectAs(t, natsauth.Runner)
	runnerStore, err := jobstore.Open(context.Background(), rjs)
	require.NoError(t, err)
	_, err = runnerStore.Update(context.Background(), first.JobID, func(r *job.Record) error {
		return job.Claim(r, job.Delivery{StreamSeq: 1, Delivered: 1, Runner: "runner", StartedAt: time.Now()}, time.Now())
	})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return b.tally.Usage("alice").Queued == 1 }, 10*time.Second, 10*time.Millisecond,
		"the tally never saw the job start")

	again := alice(`{"prompt":"three","request_id":"alice-3"}`)
	require.Equal(t, job.StatusQueued, again.Status, "answer %+v", again)
	require.Equal(t, over.JobID, again.JobID)
	rec := b.record(t, again.JobID)
	require.Equal(t, job.StatusQueued, rec.Status)
	require.Equal(t, "alice", rec.Client, "the client survives the readmission")
	require.Equal(t, "alice", b.record(t, first.JobID).Client, "the runner's write keeps the client")
}

func TestQuotaRateLimited(t *testing.T) {
	b := setupQuotas(t, "*=0/2")
	alice := b.client(t, "alice")
	require.Equal(t, job.StatusQueued, alice(`{"prompt":"one"}`).Status)
	require.Equal(t, job.StatusQueued, alice(`{"prompt":"two"}`).Status)
	requireRefused(t, alice(`{"prompt":"three"}`), job.CodeRateLimited)
	require.Equal(t, int64(1), b.stats.Rejected()[job.CodeRateLimited])
	require.EqualValues(t, 2, jobsPending(t, b.js))
}

// Each client has its own count; the bare subject is the default client.
func TestQuotaClientsCountApart(t *testing.T) {
	b := setupQuotas(t, "*=1/0 bob=2/0")
	def, alice, bob := b.client(t, bus.DefaultClient), b.client(t, "alice"), b.client(t, "bob")
	first := def(`{"prompt":"bare"}`)
	require.Equal(t, job.StatusQueued, first.Status)
	require.Equal(t, bus.DefaultClient, b.record(t, first.JobID).Client)
	requireRefused(t, def(`{"prompt":"bare again"}`), job.CodeQuotaExceeded)

	a := alice(`{"prompt":"alice"}`)
	require.Equal(t, job.StatusQueued, a.Status)
	require.Equal(t, "alice", b.record(t, a.JobID).Client)
	requireRefused(t, alice(`{"prompt":"alice again"}`), job.CodeQuotaExceeded)
	require.Equal(t, job.StatusQueued, bob(`{"prompt":"bob"}`).Status)
	require.Equal(t, job.StatusQueued, bob(`{"prompt":"bob again"}`).Status, "bob's own limit is 2")
	requireRefused(t, bob(`{"prompt":"bob thrice"}`), job.CodeQuotaExceeded)
}

// A restarted ingest counts the jobs queued before it started: it takes
// no request until it has.
func TestQuotaSurvivesARestart(t *testing.T) {
	b := setupQuotas(t, "*=1/0")
	alice := b.client(t, "alice")
	require.Equal(t, job.StatusQueued, alice(`{"prompt":"before"}`).Status)
	b.stop()
	b.start(t)
	requireRefused(t, alice(`{"prompt":"after"}`), job.CodeQuotaExceeded)
}

// A request sent again for a job that exists is answered as a duplicate,
// even at the cap: the client learns its job id.
func TestQuotaDuplicateAtTheCap(t *testing.T) {
	b := setupQuotas(t, "*=1/0")
	alice := b.client(t, "alice")
	first := alice(`{"prompt":"mine","request_id":"dup"}`)
	require.Equal(t, job.StatusQueued, first.Status)
	again := alice(`{"prompt":"mine","request_id":"dup"}`)
	require.Nil(t, again.Error, "answer %+v", again)
	require.True(t, again.Duplicate)
	require.Equal(t, first.JobID, again.JobID)

	// A job another ingest created a moment ago, which this tally may not
	// have seen yet, is a duplicate too.
	rec := job.NewQueued(job.IDForRequestID("elsewhere"), job.Spec{Model: "demo", Prompt: "p", RequestID: "elsewhere"}, time.Now(), "")
	rec.Client = "alice"
	_, err := b.store.Create(context.Background(), rec)
	require.NoError(t, err)
	other := alice(`{"prompt":"p","request_id":"elsewhere"}`)
	require.Nil(t, other.Error, "answer %+v", other)
	require.True(t, other.Duplicate)
}

// Requests sent at once, more than the cap, admit exactly the cap; each
// refused one is recorded, and nothing is queued twice.
func TestQuotaBurstAdmitsExactlyTheCap(t *testing.T) {
	const cap, burst = 3, 12
	b := setupQuotas(t, fmt.Sprintf("*=%d/0", cap))
	nc, _ := b.n.ConnectAsIdentity(t, natsauth.Client, "alice")
	for i := range burst {
		require.NoError(t, nc.Publish(bus.RequestSubject("alice"), fmt.Appendf(nil, `{"prompt":"burst","request_id":"burst-%d"}`, i)))
	}
	require.NoError(t, nc.Flush())
	var statuses map[job.Status]int
	require.Eventually(t, func() bool {
		statuses = map[job.Status]int{}
		for i := range burst {
			rec, _, err := b.store.Get(context.Background(), job.IDForRequestID(fmt.Sprintf("burst-%d", i)))
			if err != nil {
				return false
			}
			statuses[rec.Status]++
		}
		return true
	}, 10*time.Second, 20*time.Millisecond, "not every request was handled: %v", statuses)
	require.Equal(t, map[job.Status]int{job.StatusQueued: cap, job.StatusRejected: burst - cap}, statuses)
	require.EqualValues(t, cap, jobsPending(t, b.js))
	require.Equal(t, int64(burst-cap), b.stats.Rejected()[job.CodeQuotaExceeded])
}
