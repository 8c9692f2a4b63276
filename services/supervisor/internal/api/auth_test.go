package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/job"
)

const (
	readToken   = "r3ad-token"
	submitToken = "subm1t-token"
)

// withTokens configures all three tokens.
func withTokens(p *Params) { p.ReadToken, p.SubmitToken = readToken, submitToken }

// TestReadsNeedTheReadToken: with a read token configured, every route
// that hands out data (prompts, records with presigned URLs, counts,
// runners, metrics) refuses a request without it (401) or with a wrong one
// (401) or with the submit token (403), and answers the read and the admin
// token; health and the console's files stay open.
func TestReadsNeedTheReadToken(t *testing.T) {
	f := newAPIFixture(t, withTokens)
	f.put(t, job.Record{JobID: "done", Status: job.StatusCompleted, CreatedAt: time.Now()})
	waitIndexed(t, f, 1)
	const remote = "192.0.2.7:4000"
	reads := []string{"/status", "/v1/jobs", "/v1/jobs?q=p", "/v1/jobs/done", "/api/status/done", "/api/queue", "/api/queue?detailed=true",
		"/v1/models", "/api/models", "/metrics"}
	for _, path := range reads {
		for name, tc := range map[string]struct {
			headers map[string]string
			want    int
		}{
			"no token":        {nil, http.StatusUnauthorized},
			"wrong token":     {bearer("nope"), http.StatusUnauthorized},
			"a token's start": {bearer(readToken[:4]), http.StatusUnauthorized},
			"basic auth":      {map[string]string{"Authorization": "Basic " + readToken}, http.StatusUnauthorized},
			"submit token":    {bearer(submitToken), http.StatusForbidden},
			"read token":      {bearer(readToken), http.StatusOK},
			"admin token":     {bearer(testToken), http.StatusOK},
		} {
			rec := f.send(t, "GET", path, remote, "", tc.headers)
			require.Equal(t, tc.want, rec.Code, "%s with %s: %s", path, name, rec.Body.String())
			if tc.want == http.StatusUnauthorized {
				require.Equal(t, "unauthorized", errorCode(t, rec), path)
				require.Contains(t, rec.Header().Get("WWW-Authenticate"), "Bearer")
				require.NotContains(t, rec.Body.String(), "done\"", "nothing of the job leaks")
			}
		}
	}
	// The cookie is the event stream's alone.
	rec := f.send(t, "GET", "/status", remote, "", map[string]string{"Cookie": tokenCookie + "=" + readToken})
	require.Equal(t, http.StatusUnauthorized, rec.Code, "the console's cookie reads nothing but events")
	for _, open := range []string{"/livez", "/readyz", "/healthz", "/", "/console/app.js"} {
		rec := f.send(t, "GET", open, remote, "", nil)
		require.Equal(t, http.StatusOK, rec.Code, open)
	}

	// Without a read token, reads are open (the address is the boundary).
	open := newAPIFixture(t)
	rec = open.send(t, "GET", "/status", remote, "", nil)
	require.Equal(t, http.StatusOK, rec.Code)
}

// The event stream takes the read token as a bearer or as the console's
// cookie (EventSource cannot set headers), but not the cookie of a
// request another site's page made.
func TestEventsNeedTheReadToken(t *testing.T) {
	f := newAPIFixture(t, withTokens)
	srv := httptest.NewServer(f.srv.handler)
	defer srv.Close()
	defer srv.Client().CloseIdleConnections()
	for name, tc := range map[string]struct {
		headers map[string]string
		want    int
	}{
		"no token":           {nil, http.StatusUnauthorized},
		"wrong token":        {bearer("nope"), http.StatusUnauthorized},
		"submit token":       {bearer(submitToken), http.StatusForbidden},
		"wrong cookie":       {map[string]string{"Cookie": tokenCookie + "=nope"}, http.StatusUnauthorized},
		"cross-site cookie":  {map[string]string{"Cookie": tokenCookie + "=" + readToken, "Sec-Fetch-Site": "cross-site"}, http.StatusUnauthorized},
		"same-site cookie":   {map[string]string{"Cookie": tokenCookie + "=" + readToken, "Sec-Fetch-Site": "same-site"}, http.StatusUnauthorized},
		"read token":         {bearer(readToken), http.StatusOK},
		"admin token":        {bearer(testToken), http.StatusOK},
		"the console cookie": {map[string]string{"Cookie": tokenCookie + "=" + readToken, "Sec-Fetch-Site": "same-origin"}, http.StatusOK},
		"an escaped cookie":  {map[string]string{"Cookie": tokenCookie + "=" + strings.ReplaceAll(readToken, "-", "%2D")}, http.StatusOK},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		req, err := http.NewRequestWithContext(ctx, "GET", srv.URL+"/v1/events", nil)
		require.NoError(t, err)
		for k, v := range tc.headers {
			req.Header.Set(k, v)
		}
		resp, err := srv.Client().Do(req)
		require.NoError(t, err, name)
		require.Equal(t, tc.want, resp.StatusCode, name)
		resp.Body.Close()
		cancel()
	}
}

// TestSubmitNeedsTheSubmitToken: with a submit token configured, a submit
// needs it (or the admin token) wherever it comes from; without one, only
// clients on this host may submit.
func TestSubmitNeedsTheSubmitToken(t *testing.T) {
	f := newAPIFixture(t, withTokens)
	fakeIngest(t, f.ingest(t))
	const remote, local = "192.0.2.7:4000", "127.0.0.1:4000"
	body := `{"prompt":"a lighthouse"}`
	for _, path := range []string{"/v1/jobs", "/api/generate"} {
		payload := body
		accepted := http.StatusAccepted
		if path == "/api/generate" {
			payload, accepted = `{"model_id":"demo","prompt":"a lighthouse"}`, http.StatusOK
		}
		for name, tc := range map[string]struct {
			remote  string
			headers map[string]string
			want    int
		}{
			"no token":             {remote, nil, http.StatusUnauthorized},
			"no token, this host":  {local, nil, http.StatusUnauthorized},
			"wrong token":          {remote, bearer("nope"), http.StatusUnauthorized},
			"read token":           {remote, bearer(readToken), http.StatusForbidden},
			"submit token":         {remote, bearer(submitToken), accepted},
			"admin token":          {remote, bearer(testToken), accepted},
			"submit token, a form": {remote, map[string]string{"Authorization": "Bearer " + submitToken, "Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		} {
			rec := f.send(t, "POST", path, tc.remote, payload, tc.headers)
			require.Equal(t, tc.want, rec.Code, "%s %s: %s", path, name, rec.Body.String())
		}
	}

	noToken := newAPIFixture(t)
	fakeIngest(t, noToken.ingest(t))
	rec := noToken.send(t, "POST", "/v1/jobs", local, body, nil)
	require.Equal(t, http.StatusAccepted, rec.Code, "this host submits without a token: %s", rec.Body.String())
	rec = noToken.send(t, "POST", "/v1/jobs", "[::1]:4000", body, nil)
	require.Equal(t, http.StatusAccepted, rec.Code, "over IPv6 too: %s", rec.Body.String())
	rec = noToken.send(t, "POST", "/v1/jobs", remote, body, nil)
	require.Equal(t, http.StatusForbidden, rec.Code, "another host may not: %s", rec.Body.String())
	require.Contains(t, rec.Body.String(), "CYBERIMAGE_SUBMIT_TOKEN")
	rec = noToken.send(t, "POST", "/v1/jobs", remote, body, bearer(testToken))
	require.Equal(t, http.StatusAccepted, rec.Code, "the admin token submits from anywhere: %s", rec.Body.String())
}

// A token configured for two roles holds both; an empty one matches
// nothing, even an empty bearer.
func TestGrants(t *testing.T) {
	p := Params{ReadToken: "same", SubmitToken: "same", AdminToken: "adm"}
	s := &Server{p: p, tokens: hashTokens(p)}
	require.Equal(t, grantRead|grantSubmit, s.grantsOf("same").grants)
	require.Equal(t, grantRead|grantSubmit|grantAdmin, s.grantsOf("adm").grants)
	require.Equal(t, "admin", s.grantsOf("adm").name)
	require.Zero(t, s.grantsOf("").grants)
	s = &Server{tokens: hashTokens(Params{})}
	require.Zero(t, s.grantsOf("").grants, "no token configured: an empty bearer is nothing")
}
