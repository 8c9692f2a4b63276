package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"cyberimage/services/supervisor/internal/index"
	"cyberimage/shared/backoff"
	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
	"cyberimage/shared/natsauth"
	"cyberimage/shared/testenv"
)

// hookReceiver is an HTTP receiver that is down (503) until up is set,
// and keeps every delivery it accepted.
type hookReceiver struct {
	srv    *httptest.Server
	up     atomic.Bool
	mu     sync.Mutex
	got    map[string]int // accepted calls by Cyberimage-Delivery
	bodies map[string][]byte
	secret []byte
	bad    int
}

func newHookReceiver(t *testing.T, secret []byte) *hookReceiver {
	r := &hookReceiver{got: map[string]int{}, bodies: map[string][]byte{}, secret: secret}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		if !r.up.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if Verify(r.secret, req.Header.Get(HeaderSignature), body, time.Now(), time.Minute) != nil {
			r.bad++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		r.got[req.Header.Get(HeaderDelivery)]++
		r.bodies[req.Header.Get(HeaderJobID)] = body
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// rejected is how many calls failed the signature check.
func (r *hookReceiver) rejected() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bad
}

// body is the last body accepted for a job.
func (r *hookReceiver) body(jobID string) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bodies[jobID]
}

func (r *hookReceiver) accepted() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for k, v := range r.got {
		out[k] = v
	}
	return out
}

// end creates a job with a callback and ends it, returning the ending
// revision.
func end(t *testing.T, store *jobstore.Store, id, callback string) uint64 {
	t.Helper()
	ctx := context.Background()
	_, err := store.Create(ctx, job.Record{JobID: id, Status: job.StatusQueued, Spec: job.Spec{Prompt: "p " + id, CallbackURL: callback}})
	require.NoError(t, err)
	_, err = store.Update(ctx, id, func(r *job.Record) error { r.Status = job.StatusProcessing; return nil })
	require.NoError(t, err)
	rec, err := store.Update(ctx, id, func(r *job.Record) error { r.Status = job.StatusCompleted; return nil })
	require.NoError(t, err)
	_, rev, err := store.Get(ctx, rec.JobID)
	require.NoError(t, err)
	return rev
}

// hookFixture is what a leader's webhooks work against: a NATS with
// permissions, provisioned by admin, whose records, state bucket and book
// the webhooks reach with the supervisor's credentials, an index following
// the records, and a receiver on this host, allowed exactly.
type hookFixture struct {
	ctx context.Context
	// admin is for looking at what was stored, not for the webhooks.
	admin jetstream.JetStream
	store *jobstore.Store
	state jetstream.KeyValue
	book  *Book
	idx   *index.Index
	recv  *hookReceiver
	// leader makes a leader's Webhooks (tune changes its Params).
	leader func(tune func(*Params)) *Webhooks
}

func newHookFixture(t *testing.T) hookFixture {
	n := testenv.StartNATSWithAuth(t)
	_, admin := n.Provisioned(t)
	_, js := n.ConnectAs(t, natsauth.Supervisor)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	f := hookFixture{ctx: ctx, admin: admin}
	var err error
	f.store, err = jobstore.Open(ctx, js)
	require.NoError(t, err)
	f.state, err = js.KeyValue(ctx, bus.BucketSupervisor)
	require.NoError(t, err)
	f.book, err = OpenBook(ctx, js, jobstore.DefaultRetention())
	require.NoError(t, err)
	idx := index.New(f.store.KV(), zaptest.NewLogger(t))
	require.NoError(t, idx.Start(ctx))
	t.Cleanup(func() { _ = idx.Stop(context.Background()) })
	<-idx.Ready()
	f.idx = idx
	secret := []byte("0123456789abcdef")
	f.recv = newHookReceiver(t, secret)
	hosts, err := job.ParseCallbackHosts("http://" + f.recv.srv.Listener.Addr().String())
	require.NoError(t, err)
	sender := &Sender{Client: NewClient(), Secret: secret, Timeout: 5 * time.Second}
	t.Cleanup(sender.Client.CloseIdleConnections)
	metrics := NewMetrics()
	f.leader = func(tune func(*Params)) *Webhooks {
		p := Params{Ended: idx, Records: f.store.KV(), State: f.state, Book: f.book, Poster: sender, Hosts: hosts,
			RetryFor: time.Minute, Workers: 2, PerHost: 2, MaxPending: 10, Backoff: backoff.Fixed(50 * time.Millisecond),
			SaveEvery: 20 * time.Millisecond, Metrics: metrics, Logger: zaptest.NewLogger(t)}
		if tune != nil {
			tune(&p)
		}
		return New(p)
	}
	return f
}

// TestLeaderChangeCatchesUpAndResumes: a job that ended before any
// leader called webhooks is left alone; a delivery that failed under one
// leader is resumed by the next with its attempts, and a job that ended
// while no leader ran is caught up from the bucket; each is delivered
// once, signed, and the book and the checkpoint say so.
func TestLeaderChangeCatchesUpAndResumes(t *testing.T) {
	f := newHookFixture(t)
	ctx, store, state, book, recv := f.ctx, f.store, f.state, f.book, f.recv
	leader := func() *Webhooks { return f.leader(nil) }
	hook := recv.srv.URL + "/hook"
	old := end(t, store, "OLD", hook)
	require.Eventually(t, func() bool { return f.idx.Revision() >= old }, 5*time.Second, 10*time.Millisecond,
		"the index saw OLD end before the first leader begins")

	a := leader()
	require.NoError(t, a.Start(ctx))
	require.Eventually(t, func() bool { _, found, _ := checkpointIn(state).Load(ctx); return found }, 5*time.Second, 10*time.Millisecond,
		"the first leader saves where it begins")
	end(t, store, "J1", hook)
	require.Eventually(t, func() bool { s, _, _ := book.Get(ctx, "J1"); return s.Count >= 2 }, 10*time.Second, 10*time.Millisecond,
		"J1 is tried while the receiver is down")
	require.NoError(t, a.Stop(ctx))
	before, _, err := book.Get(ctx, "J1")
	require.NoError(t, err)
	require.Equal(t, StatePending, before.State)

	j2 := end(t, store, "J2", hook) // no leader runs
	recv.up.Store(true)
	b := leader()
	require.NoError(t, b.Start(ctx))
	defer func() { require.NoError(t, b.Stop(context.Background())) }()
	require.Eventually(t, func() bool {
		got := recv.accepted()
		return got["J1.0"] == 1 && got["J2.0"] == 1
	}, 10*time.Second, 10*time.Millisecond, "both delivered by the next leader: %v", recv.accepted())
	require.Eventually(t, func() bool { cp, _, _ := checkpointIn(state).Load(ctx); return cp >= j2 }, 5*time.Second, 10*time.Millisecond,
		"the checkpoint passes every settled delivery")
	require.Equal(t, map[string]int{"J1.0": 1, "J2.0": 1}, recv.accepted(), "OLD ended before webhooks began")
	require.Zero(t, recv.rejected())

	s1, _, err := book.Get(ctx, "J1")
	require.NoError(t, err)
	require.Equal(t, StateDelivered, s1.State)
	require.Equal(t, before.Since, s1.Since, "the window counts from the first leader's first attempt")
	require.Greater(t, s1.Count, before.Count)
	require.Equal(t, http.StatusServiceUnavailable, s1.Attempts[0].HTTPStatus)
	require.Equal(t, OutcomeDelivered, s1.Attempts[len(s1.Attempts)-1].Outcome)
	var body job.Record
	require.NoError(t, json.Unmarshal(recv.body("J2"), &body))
	require.Equal(t, "J2", body.JobID)
	require.Equal(t, job.StatusCompleted, body.Status)
	require.Equal(t, hook, body.Spec.CallbackURL)

	// The entry keeps its record's retention as a TTL.
	stream, err := f.admin.Stream(ctx, "KV_"+bus.BucketWebhooks)
	require.NoError(t, err)
	msg, err := stream.GetLastMsgForSubject(ctx, bus.WebhookSubject("J2"))
	require.NoError(t, err)
	require.Equal(t, jobstore.DefaultRetention().Record.String(), ttlOf(t, msg))
}

// ttlOf reads a stored message's per-message TTL as a duration.
func ttlOf(t *testing.T, msg *jetstream.RawStreamMsg) string {
	t.Helper()
	v := msg.Header.Get("Nats-TTL")
	d, err := time.ParseDuration(v)
	if err != nil {
		secs, err := strconv.Atoi(v)
		require.NoError(t, err, "Nats-TTL %q", v)
		d = time.Duration(secs) * time.Second
	}
	return d.String()
}

// TestEveryEndDeliveredOnceThroughALostFeed: with room for one record in
// the index's feed, a burst of ends loses it; the leader reads the bucket
// from its checkpoint, and each job is still delivered once.
func TestEveryEndDeliveredOnceThroughALostFeed(t *testing.T) {
	f := newHookFixture(t)
	f.recv.up.Store(true)
	w := f.leader(func(p *Params) { p.FeedLimit = 1 })
	require.NoError(t, w.Start(f.ctx))
	defer func() { require.NoError(t, w.Stop(context.Background())) }()
	require.Eventually(t, func() bool { _, found, _ := checkpointIn(f.state).Load(f.ctx); return found }, 5*time.Second, 10*time.Millisecond)
	want := map[string]int{}
	for i := range 20 {
		id := fmt.Sprintf("J%02d", i)
		end(t, f.store, id, f.recv.srv.URL+"/hook")
		want[id+".0"] = 1
	}
	require.Eventually(t, func() bool { return len(f.recv.accepted()) == len(want) }, 20*time.Second, 10*time.Millisecond,
		"every job delivered: %v", f.recv.accepted())
	require.Equal(t, want, f.recv.accepted())
	require.Zero(t, f.recv.rejected())
}
