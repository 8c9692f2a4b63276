package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/natsauth"
	"cyberimage/shared/quota"
)

// Quotas per client identity (issue 27): the subject a request came on is
// its client, and ingest holds each client to CYBERIMAGE_QUOTAS over NATS,
// HTTP and the CLI alike.

// quotaTestLimits: every client not named may have 3 jobs queued, alice 2
// (and no rate), bob 5 accepted a minute (and no cap on his queue).
const quotaTestLimits = "*=3/ alice=2/ bob=/5"

// aliceHTTPToken is alice's own HTTP token: it submits as alice.
const aliceHTTPToken = "e2e-alice-http-token"

// clientRows reads GET /v1/clients: each client's row as JSON values, by
// name, and the limits of clients not named. Rows are compared as the
// JSON they are, field names included.
func (s *stack) clientRows() (map[string]map[string]any, quota.Limits, bool) {
	var v struct {
		Clients       []map[string]any `json:"clients"`
		DefaultLimits quota.Limits     `json:"default_limits"`
	}
	if s.getJSON("/v1/clients", &v) != http.StatusOK {
		return nil, quota.Limits{}, false
	}
	rows := map[string]map[string]any{}
	for _, row := range v.Clients {
		name, _ := row["client"].(string)
		rows[name] = row
	}
	return rows, v.DefaultLimits, true
}

// jsonValue is the JSON text decoded as a client's row is.
func jsonValue(t *testing.T, text string) map[string]any {
	t.Helper()
	var v map[string]any
	require.NoError(t, json.Unmarshal([]byte(text), &v), text)
	return v
}

// TestQuotasPerClient: with no runner, jobs stay queued. Alice gets two
// jobs on her own subject and her third is refused quota_exceeded with a
// retry hint, recorded rejected (a resend of one of her jobs is still a
// duplicate, not refused); her HTTP token and the CLI with her
// credentials meet the same quota. Bob's sixth request in a minute is
// rate_limited. The bare subject is the shared "default" pool, whoever
// publishes there (alice too). /v1/clients and `cyberimage clients` show
// the counts. Once a runner has run the jobs, alice's refused request_id is
// admitted, as are her HTTP and CLI submissions; every accepted job
// completes exactly once.
func TestQuotasPerClient(t *testing.T) {
	s := newStack(t, "CYBERIMAGE_QUOTAS="+quotaTestLimits, "CYBERIMAGE_CLIENT_TOKENS=alice="+aliceHTTPToken)
	s.startServices()
	alice, _ := s.nats.ConnectAsIdentity(t, natsauth.Client, "alice")
	bob, _ := s.nats.ConnectAsIdentity(t, natsauth.Client, "bob")
	cli := buildCommands(t, "cyberimage")["cyberimage"]
	cliAsAlice := []string{"--supervisor", s.url(""), "submit", "--nats-url", s.nats.URL(),
		"--creds", s.nats.Creds(t, natsauth.Client, "alice"), "--prompt", "alice on the cli", "--width", "64", "--height", "64", "--steps", "1"}
	var accepted []string // every job accepted: each must complete
	admit := func(nc *nats.Conn, subject, requestID string) {
		t.Helper()
		r := askOn(t, nc, subject, quotaRequest(requestID))
		require.Nil(t, r.Error, "%s on %s", requestID, subject)
		require.Equal(t, job.StatusQueued, r.Status, requestID)
		accepted = append(accepted, r.JobID)
	}

	// Alice on her own subject: two, then her queue is full.
	admit(alice, bus.RequestSubject("alice"), "alice-1")
	admit(alice, bus.RequestSubject("alice"), "alice-2")
	refused := askOn(t, alice, bus.RequestSubject("alice"), quotaRequest("alice-3"))
	requireRefused(t, refused, job.CodeQuotaExceeded)
	rec := s.record(job.IDForRequestID("alice-3"))
	require.Equal(t, job.StatusRejected, rec.Status, "a refusal is recorded like any rejection")
	require.Equal(t, job.CodeQuotaExceeded, rec.Error.Code)
	require.Equal(t, "alice", rec.Client)
	dup := askOn(t, alice, bus.RequestSubject("alice"), quotaRequest("alice-1"))
	require.Nil(t, dup.Error, "a request_id naming a job is a duplicate, never refused")
	require.True(t, dup.Duplicate)
	require.Equal(t, job.IDForRequestID("alice-1"), dup.JobID)

	// Her HTTP token is the same client, with the same quota.
	code, retryAfter, reply := submitHTTP(t, s.url("/v1/jobs"), aliceHTTPToken, quotaRequest("alice-http"))
	require.Equal(t, http.StatusTooManyRequests, code, "%+v", reply)
	requireRefused(t, reply, job.CodeQuotaExceeded)
	secs, err := strconv.Atoi(retryAfter)
	require.NoError(t, err, "Retry-After %q", retryAfter)
	require.GreaterOrEqual(t, secs, 1)

	// So is the CLI with her credentials: exit 3, the client and the hint.
	text, exit := runCommand(t, time.Minute, cli, cliAsAlice...)
	require.Equal(t, 3, exit, text)
	require.Contains(t, text, "quota_exceeded (client alice, retry after ")

	// Bob has no cap on his queue but 5 a minute.
	for i := 1; i <= 5; i++ {
		admit(bob, bus.RequestSubject("bob"), fmt.Sprintf("bob-%d", i))
	}
	refused = askOn(t, bob, bus.RequestSubject("bob"), quotaRequest("bob-6"))
	requireRefused(t, refused, job.CodeRateLimited)
	require.LessOrEqual(t, refused.Error.RetryAfterS, 60, "the oldest of the minute's jobs leaves it within a minute")

	// The bare subject is one pool, "default", whoever publishes there:
	// alice too, while her own queue is full.
	admit(s.client, bus.SubjectRequests, "default-1")
	admit(alice, bus.SubjectRequests, "alice-in-the-pool")
	admit(s.client, bus.SubjectRequests, "default-2")
	requireRefused(t, askOn(t, s.client, bus.SubjectRequests, quotaRequest("default-3")), job.CodeQuotaExceeded)
	require.Equal(t, bus.DefaultClient, s.record(job.IDForRequestID("alice-in-the-pool")).Client)

	// The admin token over HTTP is the client http:admin, under "*".
	code, _, reply = submitHTTP(t, s.url("/v1/jobs"), testAdminToken, quotaRequest("admin-http"))
	require.Equal(t, http.StatusAccepted, code, "%+v", reply)
	accepted = append(accepted, reply.JobID)
	require.Equal(t, "http:admin", s.record(reply.JobID).Client)

	// What the supervisor shows of each client (all of it within the
	// minute the rate counts), and the CLI's table.
	want := map[string]map[string]any{
		"alice":      jsonValue(t, `{"client":"alice","queued":2,"running":0,"accepted_last_minute":2,"limits":{"max_queued":2,"per_minute":0}}`),
		"bob":        jsonValue(t, `{"client":"bob","queued":5,"running":0,"accepted_last_minute":5,"limits":{"max_queued":0,"per_minute":5}}`),
		"default":    jsonValue(t, `{"client":"default","queued":3,"running":0,"accepted_last_minute":3,"limits":{"max_queued":3,"per_minute":0}}`),
		"http:admin": jsonValue(t, `{"client":"http:admin","queued":1,"running":0,"accepted_last_minute":1,"limits":{"max_queued":3,"per_minute":0}}`),
	}
	var rows map[string]map[string]any
	retryUntil(t, 15*time.Second, 100*time.Millisecond, func() bool {
		var others quota.Limits
		var ok bool
		rows, others, ok = s.clientRows()
		return ok && others == quota.Limits{MaxQueued: 3} && reflect.DeepEqual(rows, want)
	}, func() string { return fmt.Sprintf("GET /v1/clients counts each client's jobs: %v", rows) })
	text, exit = runCommand(t, time.Minute, cli, "--supervisor", s.url(""), "clients")
	require.Equal(t, 0, exit, text)
	require.Regexp(t, `(?m)^alice\s+2/2\s+0\s+\d+/-\s*$`, text)
	require.Regexp(t, `(?m)^bob\s+5/-\s+0\s+5/5\s*$`, text)

	// A runner runs the queue down: alice's refused request_id is
	// admitted (the same job), and so are her HTTP token and the CLI.
	s.startRunner("runner-1")
	retryUntil(t, 2*time.Minute, 250*time.Millisecond, func() bool {
		r := askOn(t, alice, bus.RequestSubject("alice"), quotaRequest("alice-3"))
		if r.Error != nil {
			require.Equal(t, job.CodeQuotaExceeded, r.Error.Code, "refused only for her queue until it frees")
			return false
		}
		require.Equal(t, job.IDForRequestID("alice-3"), r.JobID)
		require.False(t, r.Duplicate, "the rejected request is admitted, not a duplicate")
		accepted = append(accepted, r.JobID)
		return true
	}, func() string { return "alice admitted again once her jobs ran" })
	code, _, reply = submitHTTP(t, s.url("/v1/jobs"), aliceHTTPToken, quotaRequest("alice-http"))
	require.Equal(t, http.StatusAccepted, code, "%+v", reply)
	accepted = append(accepted, reply.JobID)
	require.Equal(t, "alice", s.record(reply.JobID).Client, "her HTTP token submits as alice")
	// Her queue holds at most 2: the CLI's request may meet it until the
	// runner starts one of the two just sent.
	retryUntil(t, time.Minute, 250*time.Millisecond, func() bool {
		text, exit = runCommand(t, time.Minute, cli, cliAsAlice...)
		require.Contains(t, []int{0, 3}, exit, text)
		return exit == 0
	}, func() string { return "the CLI as alice is admitted once her queue has room: " + text })
	accepted = append(accepted, strings.TrimSpace(text))

	// Nothing accepted is lost: every accepted job completes, once.
	recs := s.waitEnded(len(accepted), 3*time.Minute)
	s.requireCompletedOnce(recs, accepted...)
	for _, id := range []string{job.IDForRequestID("bob-6"), job.IDForRequestID("default-3")} {
		require.Equal(t, job.StatusRejected, recs[id].Status, id)
	}
	// Who submitted a job stays on its record through its run.
	for requestID, client := range map[string]string{"alice-1": "alice", "alice-3": "alice", "bob-1": "bob",
		"alice-in-the-pool": bus.DefaultClient, "admin-http": "http:admin"} {
		require.Equal(t, client, recs[job.IDForRequestID(requestID)].Client, "the completed record of %s", requestID)
	}
}

// quotaRequest is a small, fast request under a request_id.
func quotaRequest(requestID string) string {
	return fmt.Sprintf(`{"prompt":"quota %s","width":64,"height":64,"steps":1,"request_id":%q}`, requestID, requestID)
}

// requireRefused checks a quota refusal: its code and a retry hint.
func requireRefused(t *testing.T, r bus.RequestReply, code job.Code) {
	t.Helper()
	require.Equal(t, job.StatusRejected, r.Status, "%+v", r)
	require.NotNil(t, r.Error)
	require.Equal(t, code, r.Error.Code, r.Error.Message)
	require.Positive(t, r.Error.RetryAfterS, "a refusal for the quota says when to retry")
}

// submitHTTP POSTs a request to /v1/jobs with a bearer token and returns
// the status, Retry-After and the answer.
func submitHTTP(t *testing.T, url, token, body string) (int, string, bus.RequestReply) {
	t.Helper()
	var r bus.RequestReply
	resp := postHTTP(t, url, body, map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + token}, &r)
	return resp.StatusCode, resp.Header.Get("Retry-After"), r
}
