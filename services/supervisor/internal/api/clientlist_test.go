package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/job"
	"cyberimage/shared/quota"
)

// TestClientsShowUseBesideLimits: GET /v1/clients lists, sorted by name,
// each client with jobs in flight or named by the quotas: its queued and
// running jobs, those accepted in the last minute, and its limits; the
// job list filters by client and a job shows who sent it; /metrics has
// the per-client queue. Reading needs the read grant.
func TestClientsShowUseBesideLimits(t *testing.T) {
	quotas, err := quota.Parse("*=100/60 alice=1000/600 carol=5/")
	require.NoError(t, err)
	f := newAPIFixture(t, withClientTokens, func(p *Params) { p.Quotas = quotas })
	now := time.Now().UTC()
	for id, rec := range map[string]job.Record{
		"a1": {Client: "alice", Status: job.StatusQueued, CreatedAt: now},
		"a2": {Client: "alice", Status: job.StatusQueued, CreatedAt: now.Add(-time.Hour)},
		"a3": {Client: "alice", Status: job.StatusProcessing, CreatedAt: now.Add(-time.Hour)},
		"h1": {Client: "http:submit", Status: job.StatusQueued, CreatedAt: now},
		"o1": {Status: job.StatusCompleted, CreatedAt: now},
	} {
		rec.JobID = id
		f.put(t, rec)
	}
	waitIndexed(t, f, 5)
	const remote = "192.0.2.7:4000"
	rec := f.send(t, "GET", "/v1/clients", remote, "", bearer(readToken))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.JSONEq(t, `{"clients":[
		{"client":"alice","queued":2,"running":1,"accepted_last_minute":1,"limits":{"max_queued":1000,"per_minute":600}},
		{"client":"carol","queued":0,"running":0,"accepted_last_minute":0,"limits":{"max_queued":5,"per_minute":0}},
		{"client":"default","queued":0,"running":0,"accepted_last_minute":1,"limits":{"max_queued":100,"per_minute":60}},
		{"client":"http:submit","queued":1,"running":0,"accepted_last_minute":1,"limits":{"max_queued":100,"per_minute":60}}
	],"default_limits":{"max_queued":100,"per_minute":60}}`, rec.Body.String())
	for token, want := range map[string]int{"": http.StatusUnauthorized, submitToken: http.StatusForbidden, aliceToken: http.StatusForbidden, testToken: http.StatusOK} {
		headers := bearer(token)
		if token == "" {
			headers = nil
		}
		require.Equal(t, want, f.send(t, "GET", "/v1/clients", remote, "", headers).Code, "token %q", token)
	}

	var list jobList
	rec = f.send(t, "GET", "/v1/jobs?client=alice", remote, "", bearer(readToken))
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &list), rec.Body.String())
	require.Len(t, list.Jobs, 3)
	for _, j := range list.Jobs {
		require.Equal(t, "alice", j.Client)
	}
	rec = f.send(t, "GET", "/v1/jobs?client=default", remote, "", bearer(readToken))
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &list))
	require.Len(t, list.Jobs, 1, "records naming no client are the default client's")
	require.Equal(t, "o1", list.Jobs[0].JobID)

	code, body := f.call(t, "GET", "/v1/jobs/a1")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "alice", body["client"])

	metrics := f.send(t, "GET", "/metrics", remote, "", bearer(readToken)).Body.String()
	require.Contains(t, metrics, `cyberimage_client_queued{client="alice"} 2`)
	require.Contains(t, metrics, `cyberimage_client_queued{client="carol"} 0`)
}

// TestClientSeriesAreBounded: past maxClientSeries clients, the gauge
// keeps those with the most queued and sums the rest as client="*".
func TestClientSeriesAreBounded(t *testing.T) {
	var uses []clientUse
	for i := range 25 {
		uses = append(uses, clientUse{Client: fmt.Sprintf("c%02d", i), Queued: i})
	}
	top := topQueued(uses, 20)
	require.Len(t, top, 21)
	require.Equal(t, clientQueued{"c24", 24}, top[0], "the most queued first")
	require.Equal(t, clientQueued{"*", 0 + 1 + 2 + 3 + 4}, top[20], "the five least queued, summed")
	require.Len(t, topQueued(uses[:3], 20), 3, "no * without a rest")
}
