package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

// fakeSupervisor answers like the real API for a completed job "DONE" and
// a failed job "BROKE".
func fakeSupervisor(t *testing.T) string {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"queue":{"pending":1,"in_progress":2,"redelivered":0,"dead":1},
			"jobs":{"pending":1,"processing":2,"completed":5,"failed":1,"rejected":3,"cancelled":0,"total":9},
			"jobs_in_progress":[{"job_id":"J1","model":"demo","runner":"r-1","attempt":1,"elapsed_seconds":1.5,"step":3,"total_steps":8}],
			"runners":[{"runner":"r-1","host":"h","models":["demo"],"slots":2,"busy":1,"device":"cpu","at":"2030-01-01T00:00:00Z","health":"healthy"},
				{"runner":"r-2","host":"h","models":["demo"],"slots":1,"busy":0,"device":"cpu","at":"2030-01-01T00:00:00Z","health":"healthy","draining":true}],
			"models":[{"name":"demo","paused":false},{"name":"sd","paused":true}],
			"recoveries":[],"supervisor":{"leader":true,"leader_id":"sup"},"at":"2030-01-01T00:00:01Z"}`))
	})
	mux.HandleFunc("GET /v1/jobs", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("cursor") == "" {
			require.Equal(t, "failed", r.URL.Query().Get("status"))
			if r.URL.Query().Get("client") == "alice" {
				w.Write([]byte(`{"jobs":[{"job_id":"HERS","status":"failed","model":"demo","attempts":1,"client":"alice","created_at":"2030-01-01T00:00:00Z"}]}`))
				return
			}
			w.Write([]byte(`{"jobs":[{"job_id":"BROKE","status":"failed","model":"demo","runner":"r-1","attempts":4,"created_at":"2030-01-01T00:00:00Z"}],"next_cursor":"C2"}`))
			return
		}
		w.Write([]byte(`{"jobs":[{"job_id":"OLD","status":"failed","model":"demo","attempts":1,"created_at":"2029-01-01T00:00:00Z"}]}`))
	})
	mux.HandleFunc("GET /v1/jobs/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") != "DONE" {
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error":{"message":"no job ` + r.PathValue("id") + `"}}`))
			return
		}
		w.Write([]byte(`{"job_id":"DONE","status":"completed","image_urls":[]}`))
	})
	mux.HandleFunc("POST /v1/jobs/{id}/retry", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") == "BROKE" {
			w.WriteHeader(http.StatusAccepted)
			w.Write([]byte(`{"job_id":"BROKE","status":"queued","requeues":1}`))
			return
		}
		w.WriteHeader(http.StatusConflict)
		w.Write([]byte(`{"error":{"message":"job DONE is completed; only failed jobs can be re-queued"}}`))
	})
	mux.HandleFunc("POST /v1/jobs/retry-failed", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		w.Write([]byte(`{"requeued":2,"skipped":0,"job_ids":["A","B"]}`))
	})
	mux.HandleFunc("POST /v1/jobs/purge", func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, "completed", r.URL.Query().Get("status"))
		require.Equal(t, "24h", r.URL.Query().Get("older_than"))
		w.Write([]byte(`{"purged":7}`))
	})
	mux.HandleFunc("GET /v1/events", func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, "J1", r.URL.Query().Get("job_id"))
		w.Header().Set("Content-Type", "text/event-stream")
		w.Write([]byte(": hello\n\nevent: progress\ndata: {\"job_id\":\"J1\",\"step\":2}\n\n"))
	})
	mux.HandleFunc("POST /v1/runners/{runner}/reload", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("runner") != "r-1" {
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error":{"message":"no live runner ` + r.PathValue("runner") + `"}}`))
			return
		}
		w.WriteHeader(http.StatusAccepted)
		w.Write([]byte(`{"runner":"r-1","order":"operator-x"}`))
	})
	for _, action := range []string{"pause", "resume"} {
		mux.HandleFunc("POST /v1/models/{model}/"+action, func(w http.ResponseWriter, r *http.Request) {
			if r.PathValue("model") != "demo" {
				w.WriteHeader(http.StatusNotFound)
				w.Write([]byte(`{"error":{"message":"no queue for model ` + r.PathValue("model") + `"}}`))
				return
			}
			w.Write([]byte(`{"name":"demo","paused":` + map[string]string{"pause": "true", "resume": "false"}[action] + `}`))
		})
	}
	for _, action := range []string{"drain", "undrain"} {
		mux.HandleFunc("POST /v1/runners/{runner}/"+action, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusAccepted)
			w.Write([]byte(`{"runner":"` + r.PathValue("runner") + `","draining":` + map[string]string{"drain": "true", "undrain": "false"}[action] + `}`))
		})
	}
	mux.HandleFunc("GET /v1/clients", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"clients":[{"client":"alice","queued":2,"running":1,"accepted_last_minute":3,"limits":{"max_queued":2,"per_minute":0}},
			{"client":"default","queued":0,"running":0,"accepted_last_minute":0,"limits":{"max_queued":100,"per_minute":60}}],
			"default_limits":{"max_queued":100,"per_minute":60}}`))
	})
	mux.HandleFunc("GET /api/queue", func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, "true", r.URL.Query().Get("detailed"))
		w.Write([]byte(`{"pending":0,"completed":5,"total":5}`))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestCommands(t *testing.T) {
	url := fakeSupervisor(t)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"status"}, 0, "total 9, pending 1, processing 2, completed 5, failed 1, cancelled 0, rejected 3"},
		{[]string{"status"}, 0, "r-1     healthy           cpu     1/2"},
		{[]string{"status"}, 0, "J1   demo   r-1     1        3/8   1.5s"},
		{[]string{"status"}, 0, "leader sup (this one)"},
		{[]string{"job", "DONE"}, 0, "\"status\": \"completed\""},
		{[]string{"job", "NOPE"}, 1, "no job NOPE (HTTP 404)"},
		{[]string{"retry", "BROKE"}, 0, "\"requeues\": 1"},
		{[]string{"retry", "DONE"}, 1, "only failed jobs can be re-queued"},
		{[]string{"queue"}, 0, "\"completed\": 5"},
		{[]string{"clients"}, 0, "alice    2/2         1        3/-"},
		{[]string{"clients"}, 0, "default  0/100       0        0/60"},
		{[]string{"clients"}, 0, "other clients' limits: max queued 100, per minute 60"},
		{[]string{"clients", "x"}, 2, "clients takes 0 argument"},
		{[]string{"jobs", "status=failed"}, 0, "BROKE   failed  demo   r-1     4"},
		{[]string{"jobs", "status=failed"}, 0, "next page: cyberimage jobs status=failed cursor=C2"},
		{[]string{"jobs", "status=failed", "cursor=C2"}, 0, "OLD     failed  demo   -       1"},
		{[]string{"retry", "--all-failed"}, 0, "\"requeued\": 2"},
		{[]string{"purge", "status=completed", "older_than=24h"}, 0, "\"purged\": 7"},
		{[]string{"purge", "everything"}, 2, "purge takes status= and older_than="},
		{[]string{"watch", "J1"}, 0, `{"job_id":"J1","step":2}`},
		{[]string{"--version"}, 0, "cyberimage"},
		{[]string{"reload", "r-1"}, 0, "operator-x"},
		{[]string{"reload", "ghost"}, 1, "no live runner ghost"},
		{[]string{"status"}, 0, "r-2     healthy,draining"},
		{[]string{"status"}, 0, "paused models  sd"},
		{[]string{"pause", "demo"}, 0, "\"paused\": true"},
		{[]string{"resume", "demo"}, 0, "\"paused\": false"},
		{[]string{"pause", "ghost"}, 1, "no queue for model ghost"},
		{[]string{"drain", "r-1"}, 0, "\"draining\": true"},
		{[]string{"undrain", "r-1"}, 0, "\"draining\": false"},
		{[]string{"drain"}, 2, "drain takes 1 argument"},
		{[]string{"completion", "bash"}, 0, "complete -o nospace -F _cyberimage cyberimage"},
		{[]string{"completion", "zsh"}, 2, "completion takes one argument: bash"},
		{[]string{"jobs", "status=failed", "client=alice"}, 0, "HERS    failed  demo   -       1         2030-01-01T00:00:00Z  alice"},
		{[]string{"jobs", "colour=red"}, 2, "jobs takes status=, model=, client=, q=, limit= and cursor= arguments"},
		{[]string{}, 2, "a command is required"},
		{[]string{"job"}, 2, "job takes 1 argument"},
		{[]string{"status", "x"}, 2, "status takes 0 argument"},
		{[]string{"cancel"}, 2, "cancel takes 1 argument"},
	} {
		var out, errOut bytes.Buffer
		code := run(append([]string{"--supervisor", url}, tc.args...), &out, &errOut)
		require.Equal(t, tc.code, code, "%v: %s%s", tc.args, out.String(), errOut.String())
		require.Contains(t, out.String()+errOut.String(), tc.want, "%v", tc.args)
	}
	var errOut bytes.Buffer
	require.Equal(t, 2, run([]string{"--supervisor", "ftp://x", "status"}, &bytes.Buffer{}, &errOut))
	require.Equal(t, 1, run([]string{"--supervisor", "127.0.0.1:1", "status"}, &bytes.Buffer{}, &errOut), "unreachable")
}
