package api

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"cyberimage/services/supervisor/internal/index"
	"cyberimage/services/supervisor/internal/recoveries"
	"cyberimage/services/supervisor/internal/tracker"
	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
	"cyberimage/shared/natsauth"
	"cyberimage/shared/objectstore"
	"cyberimage/shared/testenv"
)

// The fixture every test of the package serves the API with, and the
// ways they call it.

type apiFixture struct {
	srv   *Server
	store *jobstore.Store
	idx   *index.Index
	// nats is the server, for a test standing in for another role (ingest,
	// a runner) to connect as it; nil from newAPIFixtureOn.
	nats *testenv.NATS
}

// newAPIFixture serves the API over a real NATS server with permissions,
// provisioned as admin, on the supervisor's credentials, and a real
// index; opts change its Params (tokens, limits) before it is made.
func newAPIFixture(t *testing.T, opts ...func(*Params)) *apiFixture {
	n := testenv.StartNATSWithAuth(t)
	n.Provisioned(t, "demo")
	nc, js := n.ConnectAs(t, natsauth.Supervisor)
	f := newAPIFixtureOn(t, nc, js, opts...)
	f.nats = n
	return f
}

// ingest connects as ingest, for a test that stands in for it.
func (f *apiFixture) ingest(t *testing.T) *nats.Conn {
	nc, _ := f.nats.ConnectAs(t, natsauth.Ingest)
	return nc
}

// runner connects as the GPU runner name, for a test that stands in for it.
func (f *apiFixture) runner(t *testing.T, name string) *nats.Conn {
	nc, _ := f.nats.ConnectAsIdentity(t, natsauth.Runner, name)
	return nc
}

// newAPIFixtureOn is newAPIFixture on a connection of the caller's (the
// supervisor role's, on a server with permissions).
func newAPIFixtureOn(t *testing.T, nc *nats.Conn, js jetstream.JetStream, opts ...func(*Params)) *apiFixture {
	ctx := context.Background()
	store, err := jobstore.Open(ctx, js)
	require.NoError(t, err)
	// A small window: lists and bulk actions reach past it, into the
	// bucket, as they do on a big system.
	idx := index.New(store.KV(), zaptest.NewLogger(t), index.WithWindow(20))
	require.NoError(t, idx.Start(ctx))
	t.Cleanup(func() { _ = idx.Stop(context.Background()) })
	<-idx.Ready()
	s3, err := objectstore.NewClient(objectstore.Config{Endpoint: "127.0.0.1:9", AccessKey: "k", SecretKey: "s"})
	require.NoError(t, err)
	p := Params{Addr: "127.0.0.1:0", NC: nc, JS: js, Store: store, Index: idx, S3: s3, Bucket: "cyberimage", PresignTTL: time.Minute, Tracker: tracker.New(nc, time.Second, nil, zaptest.NewLogger(t)),
		Recoveries: recoveries.NewLog(10), Unhealthy: func(string) bool { return false },
		Leader: func() (bool, string) { return true, "me" }, AdminToken: testToken, Logger: zaptest.NewLogger(t)}
	for _, o := range opts {
		o(&p)
	}
	srv := New(p)
	return &apiFixture{srv: srv, store: store, idx: idx}
}

func (f *apiFixture) put(t *testing.T, rec job.Record) {
	rec.Spec = job.Spec{Prompt: "p", Model: "demo", Width: 64, Height: 64, Steps: 1, NumImages: 1}
	_, err := f.store.Create(context.Background(), rec)
	require.NoError(t, err)
}

const testToken = "s3cr3t-admin"

// call sends a request as an operator would: with the admin token.
func (f *apiFixture) call(t *testing.T, method, path string) (int, map[string]any) {
	return f.callWith(t, method, path, map[string]string{"Authorization": "Bearer " + testToken})
}

// callWith sends a request with headers, and reads its answer's JSON.
func (f *apiFixture) callWith(t *testing.T, method, path string, headers map[string]string) (int, map[string]any) {
	rec := f.send(t, method, path, "", "", headers)
	var body map[string]any
	if strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), rec.Body.String())
	}
	return rec.Code, body
}

// fakeIngest answers every request, on any request subject, as ingest
// accepting it would.
func fakeIngest(t *testing.T, nc *nats.Conn) {
	t.Helper()
	answerRequests(t, nc, func(*nats.Msg) bus.RequestReply {
		return bus.RequestReply{JobID: "J-accepted", Status: job.StatusQueued}
	})
}

// answerRequests answers every request on the request subjects (the bare
// one and the per-client ones, as ingest's consumer takes them all) with
// answer's reply.
func answerRequests(t *testing.T, nc *nats.Conn, answer func(*nats.Msg) bus.RequestReply) {
	t.Helper()
	for _, subject := range []string{bus.SubjectRequests, bus.SubjectRequestsAll} {
		sub, err := nc.Subscribe(subject, func(m *nats.Msg) {
			reply, _ := json.Marshal(answer(m))
			_ = m.Respond(reply)
		})
		require.NoError(t, err)
		t.Cleanup(func() { _ = sub.Unsubscribe() })
	}
	require.NoError(t, nc.Flush())
}

// send sends a request with body (JSON, when there is one) and headers,
// from the client address remote ("": httptest's).
func (f *apiFixture) send(t *testing.T, method, path, remote, body string, headers map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if remote != "" {
		req.RemoteAddr = remote
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	f.srv.handler.ServeHTTP(rec, req)
	return rec
}

func bearer(token string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + token}
}

// errorCode is the stable code of an error answer.
func errorCode(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var body struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
		Code string `json:"code"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), rec.Body.String())
	if body.Error.Code != "" {
		return body.Error.Code
	}
	return body.Code
}
