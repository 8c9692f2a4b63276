package objectstore

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/config"
)

func TestEndpoints(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		host string
	}{
		{"127.0.0.1:9000", []string{"127.0.0.1:9000"}, "127.0.0.1:9000"},
		{"a:1,b:2, c:3 ", []string{"a:1", "b:2", "c:3"}, "a:1"},
		{"a:1,,b:2", []string{"a:1", "b:2"}, "a:1"},
		{"", nil, ""},
	} {
		c := Config{Endpoint: tc.in}
		require.Equal(t, tc.want, c.Endpoints(), tc.in)
		require.Equal(t, tc.host, c.Host(), tc.in)
	}
}

// One endpoint keeps minio-go's own transport, as before several were
// possible.
func TestTransportOneEndpointIsTheDefault(t *testing.T) {
	tr, err := Transport(Config{Endpoint: "127.0.0.1:9000"})
	require.NoError(t, err)
	require.Nil(t, tr)
	tr, err = Transport(Config{Endpoint: "127.0.0.1:9000,127.0.0.1:9002"})
	require.NoError(t, err)
	require.NotNil(t, tr)
}

// fakeNodes answers dials from a set of live addresses and refuses the
// rest, recording every attempt.
type fakeNodes struct {
	live     map[string]bool
	attempts []string
}

func (f *fakeNodes) dial(_ context.Context, _, addr string) (net.Conn, error) {
	f.attempts = append(f.attempts, addr)
	if !f.live[addr] {
		return nil, fmt.Errorf("dial %s: %w", addr, syscall.ECONNREFUSED)
	}
	client, server := net.Pipe()
	server.Close()
	return client, nil
}

func (f *fakeNodes) next(t *testing.T, d *failoverDialer) []string {
	t.Helper()
	f.attempts = nil
	conn, err := d.DialContext(context.Background(), "tcp", "ignored:1")
	require.NoError(t, err)
	conn.Close()
	return f.attempts
}

func TestFailoverDialerKeepsTheNodeThatAnswered(t *testing.T) {
	nodes := &fakeNodes{live: map[string]bool{"b:1": true, "c:1": true}}
	d := &failoverDialer{nodes: newNodes([]string{"a:1", "b:1", "c:1", "d:1"}), dial: nodes.dial}

	require.Equal(t, []string{"a:1", "b:1"}, nodes.next(t, d), "the first node that answers")
	require.Equal(t, []string{"b:1"}, nodes.next(t, d), "then straight to it")

	nodes.live["b:1"] = false
	require.Equal(t, []string{"b:1", "c:1"}, nodes.next(t, d), "past a dead node to the next one")

	nodes.live["c:1"] = false
	nodes.live["a:1"] = true
	require.Equal(t, []string{"c:1", "d:1", "a:1"}, nodes.next(t, d), "round to the start of the list")
}

func TestFailoverDialerNoNodeAnswers(t *testing.T) {
	nodes := &fakeNodes{}
	d := &failoverDialer{nodes: newNodes([]string{"a:1", "b:1"}), dial: nodes.dial}
	_, err := d.DialContext(context.Background(), "tcp", "a:1")
	require.ErrorIs(t, err, syscall.ECONNREFUSED)
	require.ErrorContains(t, err, "dial a:1")
	require.ErrorContains(t, err, "dial b:1")
	require.Equal(t, []string{"a:1", "b:1"}, nodes.attempts)
}

// A caller that gave up stops the search: no node is dialed after that.
func TestFailoverDialerStopsWhenTheCallerGivesUp(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var attempts int
	d := &failoverDialer{nodes: newNodes([]string{"a:1", "b:1", "c:1"}), dial: func(context.Context, string, string) (net.Conn, error) {
		attempts++
		cancel()
		return nil, context.Canceled
	}}
	_, err := d.DialContext(ctx, "tcp", "a:1")
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, 1, attempts)
}

// Through the transport, a request addressed to a dead first node reaches
// a live one with its Host header intact: what the request was signed for.
func TestTransportReachesALiveNodeWithTheSignedHost(t *testing.T) {
	var hosts []string
	live := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hosts = append(hosts, r.Host)
		_, _ = io.WriteString(w, "ok")
	}))
	defer live.Close()
	dead := closedAddr(t)

	tr, err := Transport(Config{Endpoint: dead + "," + live.Listener.Addr().String()})
	require.NoError(t, err)
	defer tr.(*failoverTransport).CloseIdleConnections()
	client := &http.Client{Transport: tr}
	for range 2 {
		resp, err := client.Get("http://" + dead + "/bucket/key")
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, "ok", string(body))
	}
	require.Equal(t, []string{dead, dead}, hosts)
}

// closedAddr is a loopback address nothing listens on: dials are refused.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// An empty entry in the list is a typo to refuse, not a node to skip.
func TestCheckRefusesAnEmptyEndpoint(t *testing.T) {
	for endpoint, ok := range map[string]bool{
		"127.0.0.1:9000":                 true,
		"127.0.0.1:9000,127.0.0.1:9002":  true,
		"127.0.0.1:9000,,127.0.0.1:9002": false,
		"127.0.0.1:9000,":                false,
	} {
		env := map[string]string{"CYBERIMAGE_S3_ENDPOINT": endpoint, "CYBERIMAGE_DEV": "true"}
		l := config.NewLoaderWithEnv("test", io.Discard, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		var c Config
		c.Bind(l)
		require.NoError(t, l.Parse(nil))
		c.Check(l)
		require.Equal(t, ok, l.Err() == nil, "%q: %v", endpoint, l.Err())
	}
}
