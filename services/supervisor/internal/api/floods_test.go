package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/bus"
	"cyberimage/shared/httpserve"
	"cyberimage/shared/job"
)

// from is an HTTP client whose connections come from one loopback
// address, so the server sees a distinct client per address.
func from(t *testing.T, ip string) *http.Client {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	tr := &http.Transport{DialContext: d.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// stream is one open GET /v1/events.
type stream struct {
	resp  *http.Response
	lines *bufio.Scanner
}

// openStream opens an event stream; on 200 it has read the opening comment.
func openStream(t *testing.T, c *http.Client, base string) (*stream, int) {
	t.Helper()
	resp, err := c.Get(base + "/v1/events")
	require.NoError(t, err)
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, resp.StatusCode
	}
	s := &stream{resp: resp, lines: bufio.NewScanner(resp.Body)}
	t.Cleanup(s.close)
	require.True(t, s.lines.Scan())
	require.True(t, strings.HasPrefix(s.lines.Text(), ":"), s.lines.Text())
	return s, http.StatusOK
}

func (s *stream) close() { s.resp.Body.Close() }

// get answers a plain GET's status.
func get(t *testing.T, c *http.Client, url string) int {
	t.Helper()
	resp, err := c.Get(url)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

// TestEventStreamFloodIsCapped: one client opening stream after stream is
// answered 429 at its own cap, while other clients still get theirs and
// the console's page and reads answer; all clients together stop at the
// global cap; a closed stream frees its place. Streams outlive the
// server's write timeout.
func TestEventStreamFloodIsCapped(t *testing.T) {
	timeouts := httpserve.Timeouts{ReadHeader: time.Second, Read: 300 * time.Millisecond, Write: 300 * time.Millisecond, Idle: time.Second, MaxHeaderBytes: 8 << 10}
	f := newAPIFixture(t, func(p *Params) { p.Limits = Limits{Streams: 4, StreamsPerClient: 2, Timeouts: timeouts} })
	require.NoError(t, f.srv.Start(t.Context()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, f.srv.Stop(ctx))
	})
	base := "http://" + f.srv.Addr().String()
	flooder, console, other := from(t, "127.0.0.2"), from(t, "127.0.0.3"), from(t, "127.0.0.4")

	first, code := openStream(t, flooder, base)
	require.Equal(t, http.StatusOK, code)
	_, code = openStream(t, flooder, base)
	require.Equal(t, http.StatusOK, code)
	resp, err := flooder.Get(base + "/v1/events")
	require.NoError(t, err)
	var refused struct {
		Error struct{ Code string } `json:"error"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&refused))
	resp.Body.Close()
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	require.Equal(t, "too_many_streams", refused.Error.Code)
	require.NotEmpty(t, resp.Header.Get("Retry-After"))

	// The console, from its own address, still works: its page, its reads
	// and its live view.
	live, code := openStream(t, console, base)
	liveOpened := time.Now()
	require.Equal(t, http.StatusOK, code, "the console's stream")
	for _, path := range []string{"/", "/status", "/v1/jobs", "/api/queue?detailed=true"} {
		require.Equal(t, http.StatusOK, get(t, console, base+path), path)
	}
	require.Equal(t, http.StatusOK, get(t, flooder, base+"/status"), "the flooder's reads are not streams")

	// Every client together stops at the global cap.
	_, code = openStream(t, other, base)
	require.Equal(t, http.StatusOK, code)
	_, code = openStream(t, other, base)
	require.Equal(t, http.StatusTooManyRequests, code, "four streams open: the global cap")

	// A closed stream gives its place back once the server sees it close.
	first.close()
	require.Eventually(t, func() bool {
		s, code := openStream(t, other, base)
		if s != nil {
			s.close()
		}
		return code == http.StatusOK
	}, 5*time.Second, 20*time.Millisecond, "the closed stream's place came back")

	// Past the write timeout the console's stream still carries events.
	// Reaching that point is the scenario, not a wait for a result: the
	// deadline the stream lifted is on a real connection's clock.
	<-time.After(time.Until(liveOpened.Add(2 * timeouts.Write)))
	ev, _ := json.Marshal(bus.ProgressEvent{JobID: "J1", Status: "processing", Step: 1, TotalSteps: 2, Runner: "r", At: time.Now()})
	require.NoError(t, f.runner(t, "r").Publish(bus.EventSubject("J1"), ev))
	for live.lines.Scan() {
		if data, ok := strings.CutPrefix(live.lines.Text(), "data: "); ok {
			require.Contains(t, data, `"J1"`)
			return
		}
	}
	t.Fatalf("the stream ended: %v", live.lines.Err())
}

// TestScanFloodIsCapped: while every scan slot is taken, a search that
// must read the bucket is answered 429, and the console's pages (the
// window's lists and searches, status, the page itself) still answer; a
// scan that runs past its time bound is answered 503; with a free slot
// the search runs.
func TestScanFloodIsCapped(t *testing.T) {
	f := newAPIFixture(t, func(p *Params) { p.Limits = Limits{Scans: 1} })
	base := time.Now().Add(-time.Hour)
	for i := range 30 { // the fixture's window holds 20
		f.put(t, job.Record{JobID: fmt.Sprintf("J%02d", i), Status: job.StatusCompleted, CreatedAt: base.Add(time.Duration(i) * time.Second)})
	}
	waitIndexed(t, f, 30)

	code, body := f.call(t, "GET", "/v1/jobs?q=nowhere")
	require.Equal(t, http.StatusOK, code, body)
	require.Empty(t, body["jobs"], "a free slot: the search reads the bucket")

	past := pageAfter(t, f, 25)
	release, ok := f.srv.scans.try() // the flood holds the only slot
	require.True(t, ok)
	rec := f.send(t, "GET", "/v1/jobs?q=nowhere", "192.0.2.7:4000", "", nil)
	require.Equal(t, http.StatusTooManyRequests, rec.Code)
	require.Equal(t, "too_many_scans", errorCode(t, rec))
	require.NotEmpty(t, rec.Header().Get("Retry-After"))
	code, _ = f.call(t, "GET", "/v1/jobs?cursor="+past)
	require.Equal(t, http.StatusTooManyRequests, code, "a page past the window reads the bucket too")
	// (The fixture's window is 20 jobs, so the console's pages here are
	// smaller than its 50.)
	for _, path := range []string{"/", "/status", "/v1/jobs?limit=10", "/v1/jobs?limit=5&status=completed", "/v1/jobs?limit=1&q=p", "/api/queue?detailed=true"} {
		code, body := f.call(t, "GET", path)
		require.Equal(t, http.StatusOK, code, "%s: %v", path, body)
	}
	code, body = f.call(t, "GET", "/v1/jobs?limit=5")
	require.Equal(t, http.StatusOK, code)
	require.Len(t, body["jobs"], 5, "the window answers")
	release()

	slow := newAPIFixture(t, func(p *Params) { p.Limits = Limits{ScanTimeout: time.Nanosecond} })
	slow.put(t, job.Record{JobID: "J", Status: job.StatusCompleted, CreatedAt: base})
	for i := range 25 {
		slow.put(t, job.Record{JobID: fmt.Sprintf("N%02d", i), Status: job.StatusCompleted, CreatedAt: time.Now()})
	}
	waitIndexed(t, slow, 26)
	rec = slow.send(t, "GET", "/v1/jobs?q=nowhere", "192.0.2.7:4000", "", nil)
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.Equal(t, "scan_timeout", errorCode(t, rec))
	code, _ = slow.call(t, "GET", "/v1/jobs?limit=5")
	require.Equal(t, http.StatusOK, code, "the window needs no scan, and no time bound")
}

// pageAfter is the cursor of a page that starts after the n newest jobs:
// past the window when n is beyond it.
func pageAfter(t *testing.T, f *apiFixture, n int) string {
	t.Helper()
	code, body := f.call(t, "GET", fmt.Sprintf("/v1/jobs?limit=%d", n))
	require.Equal(t, http.StatusOK, code, body)
	return body["next_cursor"].(string)
}
