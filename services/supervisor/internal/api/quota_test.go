package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/natsauth"
	"cyberimage/shared/testenv"
)

const aliceToken = "al1ce-token"

// withClientTokens configures the three roles' tokens and alice's.
func withClientTokens(p *Params) {
	withTokens(p)
	p.ClientTokens = map[string]string{"alice": aliceToken}
}

// TestIngestQuotaRefusalsAre429: ingest's quota_exceeded and rate_limited
// answers reach the HTTP client as 429 with Retry-After from the answer's
// hint (at least 1 s) and the answer itself, in the pipeline's shape and
// in the original app's; nothing else is answered 429.
func TestIngestQuotaRefusalsAre429(t *testing.T) {
	f := newAPIFixture(t)
	refusals := map[string]bus.RequestError{
		"over-cap":  {Code: job.CodeQuotaExceeded, Message: "alice has 1000 jobs queued, at most 1000", RetryAfterS: 7},
		"too-fast":  {Code: job.CodeRateLimited, Message: "over 600 a minute", RetryAfterS: 0},
		"not-quota": {Code: job.CodeWidthOutOfRange, Field: "width", Message: "too wide"},
	}
	answerRequests(t, f.ingest(t), func(m *nats.Msg) bus.RequestReply {
		var req job.Request
		_ = json.Unmarshal(m.Data, &req)
		e := refusals[req.Prompt]
		return bus.RequestReply{Status: job.StatusRejected, Error: &e}
	})
	const local = "127.0.0.1:4000"
	for prompt, e := range refusals {
		wantStatus, wantRetry := http.StatusTooManyRequests, strconv.Itoa(max(1, e.RetryAfterS))
		if prompt == "not-quota" {
			wantStatus, wantRetry = http.StatusBadRequest, ""
		}
		v1 := f.send(t, "POST", "/v1/jobs", local, `{"prompt":"`+prompt+`"}`, nil)
		require.Equal(t, wantStatus, v1.Code, v1.Body.String())
		require.Equal(t, wantRetry, v1.Header().Get("Retry-After"), prompt)
		var body submitted
		require.NoError(t, json.Unmarshal(v1.Body.Bytes(), &body))
		require.Equal(t, job.StatusRejected, body.Status)
		require.Equal(t, e, *body.Error, "ingest's answer as it came")
		require.NotEmpty(t, body.RequestID)

		legacy := f.send(t, "POST", "/api/generate", local, `{"model_id":"demo","prompt":"`+prompt+`"}`, nil)
		require.Equal(t, wantStatus, legacy.Code, legacy.Body.String())
		require.Equal(t, wantRetry, legacy.Header().Get("Retry-After"), prompt)
		var old map[string]any
		require.NoError(t, json.Unmarshal(legacy.Body.Bytes(), &old))
		require.Equal(t, "error", old["status"])
		require.Equal(t, string(e.Code), old["code"])
		require.Equal(t, e.Message, old["message"])
		if e.RetryAfterS > 0 {
			require.EqualValues(t, e.RetryAfterS, old["retry_after_s"])
		} else {
			require.NotContains(t, old, "retry_after_s")
		}
	}
}

// TestSubmissionsGoOutUnderTheSendersName: on a server with permissions,
// the supervisor (its own role's creds) publishes each HTTP submission on
// the subject that names its sender, and ingest (its creds) hears it
// there: a client token as its client (the identity of its NATS creds),
// the submit and admin tokens as http:<role>, a tokenless local submit as
// http:local. The rate limit keeps a bucket per sender.
func TestSubmissionsGoOutUnderTheSendersName(t *testing.T) {
	n := testenv.StartNATSWithAuth(t)
	n.Provisioned(t, "demo")
	nc, js := n.ConnectAs(t, natsauth.Supervisor)
	ingest, _ := n.ConnectAs(t, natsauth.Ingest)
	subjects := make(chan string, 8)
	answerRequests(t, ingest, func(m *nats.Msg) bus.RequestReply {
		subjects <- m.Subject
		return bus.RequestReply{JobID: "J-accepted", Status: job.StatusQueued}
	})
	f := newAPIFixtureOn(t, nc, js, withClientTokens, func(p *Params) { p.SubmitRate = 1 })
	const remote = "192.0.2.7:4000"
	heard := func() string {
		t.Helper()
		select {
		case s := <-subjects:
			return s
		case <-time.After(10 * time.Second):
			t.Fatal("ingest heard nothing")
			return ""
		}
	}
	for token, want := range map[string]struct{ subject, client string }{
		aliceToken:  {"cyberimage.requests.alice", "alice"},
		submitToken: {"cyberimage.requests.http.submit", "http:submit"},
		testToken:   {"cyberimage.requests.http.admin", "http:admin"},
	} {
		rec := f.send(t, "POST", "/v1/jobs", remote, `{"prompt":"p"}`, bearer(token))
		require.Equal(t, http.StatusAccepted, rec.Code, "%s: %s", want.client, rec.Body.String())
		subject := heard()
		require.Equal(t, want.subject, subject)
		require.Equal(t, want.client, bus.RequestClient(subject))
	}
	again := f.send(t, "POST", "/v1/jobs", remote, `{"prompt":"p"}`, bearer(aliceToken))
	require.Equal(t, http.StatusTooManyRequests, again.Code, "alice's bucket is hers")
	require.Equal(t, "rate_limited", errorCode(t, again))
	require.Equal(t, "60", again.Header().Get("Retry-After"))

	require.Equal(t, http.StatusForbidden, f.send(t, "GET", "/v1/jobs", remote, "", bearer(aliceToken)).Code, "a client token only submits")
	f.srv.p.SubmitToken = ""           // this host may submit without a token
	f.srv.tokens = hashTokens(f.srv.p) // New hashes the tokens once
	rec := f.send(t, "POST", "/v1/jobs", "127.0.0.1:4000", `{"prompt":"p"}`, nil)
	require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
	require.Equal(t, bus.HTTPRequestSubject("local"), heard())
	require.Equal(t, http.StatusUnauthorized, f.send(t, "POST", "/v1/jobs", remote, `{"prompt":"p"}`, nil).Code,
		"with client tokens set, another host is asked for a token")
}
