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
	"go.uber.org/zap/zaptest"

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

// One junk event counts once in the bus's drops, however many streams are
// open to hear it: the metric says what arrived, not how many listened.
func TestEventsJunkCountsOnceWhateverTheStreams(t *testing.T) {
	drops := bus.NewDrops(zaptest.NewLogger(t), time.Minute)
	f := newAPIFixture(t, func(p *Params) { p.Drops = drops })
	srv := httptest.NewServer(f.srv.handler)
	t.Cleanup(srv.Close) // after the streams' bodies close: it waits for them
	open := func(query string) *bufio.Scanner {
		resp, err := http.Get(srv.URL + "/v1/events" + query)
		require.NoError(t, err)
		t.Cleanup(func() { resp.Body.Close() })
		require.Equal(t, http.StatusOK, resp.StatusCode)
		lines := bufio.NewScanner(resp.Body)
		require.True(t, lines.Scan(), "the stream opens with a comment")
		return lines
	}
	streams := []*bufio.Scanner{open(""), open(""), open("?job_id=J1")}
	nc := f.runner(t, "r")
	require.NoError(t, nc.Publish(bus.EventSubject("J1"), []byte("junk")))
	good, _ := json.Marshal(bus.ProgressEvent{JobID: "J1", Status: "processing", Step: 1, TotalSteps: 1, Runner: "r", At: time.Now()})
	require.NoError(t, nc.Publish(bus.EventSubject("J1"), good))
	require.NoError(t, nc.Flush())
	// Each stream's first event is the good one (the junk, before it, was
	// never sent), and once every stream has it the junk has been dealt with.
	for i, lines := range streams {
		data, ok := "", false
		for !ok && lines.Scan() {
			data, ok = strings.CutPrefix(lines.Text(), "data: ")
		}
		var ev bus.ProgressEvent
		require.NoError(t, json.Unmarshal([]byte(data), &ev), "stream %d", i)
		require.Equal(t, 1, ev.Step, "stream %d", i)
	}
	rec := f.send(t, "GET", "/metrics", "", "", map[string]string{"Authorization": "Bearer " + testToken})
	require.Equal(t, http.StatusOK, rec.Code)
	require.Contains(t, rec.Body.String(), `cyberimage_bus_dropped_total{kind="junk:event"} 1`+"\n")
}
