package webhook

import (
	"context"
	"encoding/json"
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

// TestLeaderChangeCatchesUpAndResumes: a job that ended before any
// leader called webhooks is left alone; a delivery that failed under one
// leader is resumed by the next with its attempts, and a job that ended
// while no leader ran is caught up from the bucket; each is delivered
// once, signed, and the book and the checkpoint say so.
func TestLeaderChangeCatchesUpAndResumes(t *testing.T) {
	n := testenv.StartNATS(t)
	_, js := n.Provisioned(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	store, err := jobstore.Open(ctx, js)
	require.NoError(t, err)
	state, err := js.KeyValue(ctx, bus.BucketSupervisor)
	require.NoError(t, err)
	book, err := OpenBook(ctx, js, jobstore.DefaultRetention())
	require.NoError(t, err)
	idx := index.New(store.KV(), zaptest.NewLogger(t))
	require.NoError(t, idx.Start(ctx))
	defer func() { _ = idx.Stop(context.Background()) }()
	<-idx.Ready()

	secret := []byte("0123456789abcdef")
	recv := newHookReceiver(t, secret)
	hosts, err := job.ParseCallbackHosts("http://" + recv.srv.Listener.Addr().String())
	require.NoError(t, err)
	sender := &Sender{Client: NewClient(), Secret: secret, Timeout: 5 * time.Second}
	defer sender.Client.CloseIdleConnections()
	metrics := NewMetrics()
	leader := func() *Webhooks {
		return New(Params{Ended: idx, Records: store.KV(), State: state, Book: book, Poster: sender, Hosts: hosts,
			RetryFor: time.Minute, Workers: 2, PerHost: 2, MaxPending: 10, Backoff: backoff.Fixed(50 * time.Millisecond),
			SaveEvery: 20 * time.Millisecond, Metrics: metrics, Logger: zaptest.NewLogger(t)})
	}
	hook := recv.srv.URL + "/hook"
	end(t, store, "OLD", hook)
	require.Eventually(t, func() bool { return idx.Revision() >= 2 }, 5*time.Second, 10*time.Millisecond)

	a := leader()
	require.NoError(t, a.Start(ctx))
	require.Eventually(t, func() bool { _, found, _ := checkpointOf(ctx, state); return found }, 5*time.Second, 10*time.Millisecond,
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
	require.Eventually(t, func() bool { cp, _, _ := checkpointOf(ctx, state); return cp >= j2 }, 5*time.Second, 10*time.Millisecond,
		"the checkpoint passes every settled delivery")
	require.Equal(t, map[string]int{"J1.0": 1, "J2.0": 1}, recv.accepted(), "OLD ended before webhooks began")
	require.Zero(t, recv.bad)

	s1, _, err := book.Get(ctx, "J1")
	require.NoError(t, err)
	require.Equal(t, StateDelivered, s1.State)
	require.Equal(t, before.Since, s1.Since, "the window counts from the first leader's first attempt")
	require.Greater(t, s1.Count, before.Count)
	require.Equal(t, http.StatusServiceUnavailable, s1.Attempts[0].HTTPStatus)
	require.Equal(t, OutcomeDelivered, s1.Attempts[len(s1.Attempts)-1].Outcome)
	var body job.Record
	require.NoError(t, json.Unmarshal(recv.bodies["J2"], &body))
	require.Equal(t, "J2", body.JobID)
	require.Equal(t, job.StatusCompleted, body.Status)
	require.Equal(t, hook, body.Spec.CallbackURL)

	// The entry keeps its record's retention as a TTL.
	stream, err := js.Stream(ctx, "KV_"+bus.BucketWebhooks)
	require.NoError(t, err)
	msg, err := stream.GetLastMsgForSubject(ctx, "$KV."+bus.BucketWebhooks+".J2")
	require.NoError(t, err)
	require.Equal(t, jobstore.DefaultRetention().Record.String(), ttlOf(t, msg))
}

func checkpointOf(ctx context.Context, state jetstream.KeyValue) (uint64, bool, error) {
	e, err := state.Get(ctx, checkpointKey)
	if err != nil {
		return 0, false, err
	}
	rev, err := strconv.ParseUint(string(e.Value()), 10, 64)
	return rev, err == nil, err
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
