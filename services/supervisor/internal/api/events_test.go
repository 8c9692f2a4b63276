package api

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/bus"
)

// GET /v1/events?job_id= streams that job's progress as server-sent
// events, live; other jobs' events and junk do not reach it.
func TestEventsStreamOneJobsProgress(t *testing.T) {
	f := newAPIFixture(t)
	srv := httptest.NewServer(f.srv.handler)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/v1/events?job_id=J1")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	lines := bufio.NewScanner(resp.Body)
	require.True(t, lines.Scan())
	require.True(t, strings.HasPrefix(lines.Text(), ":"), "a comment opens the stream: %q", lines.Text())

	nc := f.runner(t, "r")
	publish := func(subject string, data []byte) {
		require.NoError(t, nc.Publish(subject, data))
		require.NoError(t, nc.Flush())
	}
	other, _ := json.Marshal(bus.ProgressEvent{JobID: "J2", Status: "processing", Step: 1, TotalSteps: 4, Runner: "r", At: time.Now()})
	publish(bus.EventSubject("J2"), other)
	publish(bus.EventSubject("J1"), []byte("junk"))
	for step := 1; step <= 3; step++ {
		ev, _ := json.Marshal(bus.ProgressEvent{JobID: "J1", Status: "processing", Step: step, TotalSteps: 3, Runner: "r", At: time.Now()})
		publish(bus.EventSubject("J1"), ev)
	}
	var got []bus.ProgressEvent
	for len(got) < 3 && lines.Scan() {
		line := lines.Text()
		if data, ok := strings.CutPrefix(line, "data: "); ok {
			var ev bus.ProgressEvent
			require.NoError(t, json.Unmarshal([]byte(data), &ev))
			got = append(got, ev)
		} else if line != "" {
			require.Equal(t, "event: progress", line)
		}
	}
	require.Len(t, got, 3)
	for i, ev := range got {
		require.Equal(t, "J1", ev.JobID)
		require.Equal(t, i+1, ev.Step)
	}
	bad, err := http.Get(srv.URL + "/v1/events?job_id=a.b")
	require.NoError(t, err)
	bad.Body.Close()
	require.Equal(t, http.StatusBadRequest, bad.StatusCode)
}
