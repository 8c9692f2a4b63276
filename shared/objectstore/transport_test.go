package objectstore

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"weak"

	"github.com/stretchr/testify/require"
)

// A node that failed is tried last until its suspicion runs out, which
// doubles with each failure in a row; an answer clears it.
func TestNodesSuspectAFailedNode(t *testing.T) {
	now := time.Unix(1000, 0)
	n := newNodes([]string{"a:1", "b:1", "c:1"})
	n.now = func() time.Time { return now }
	require.Equal(t, []int{0, 1, 2}, n.order())

	n.failed(0)
	require.Equal(t, []int{1, 2, 0}, n.order(), "off the failed node")
	n.connected(2)
	require.Equal(t, []int{2, 1, 0}, n.order(), "from the node that answered last, the suspect one last")
	now = now.Add(suspectBase)
	require.Equal(t, []int{2, 0, 1}, n.order(), "suspicion ran out")

	n.failed(0)
	n.failed(0)
	now = now.Add(suspectBase)
	require.Equal(t, []int{2, 1, 0}, n.order(), "the third failure in a row is suspect 4 times as long")
	n.answered(0)
	require.Equal(t, []int{2, 0, 1}, n.order(), "an answer clears it")

	for range 20 {
		n.failed(1)
	}
	now = now.Add(suspectMax)
	require.Equal(t, []int{2, 0, 1}, n.order(), "never suspect longer than suspectMax")
}

// A node that takes connections but never answers (a frozen host): the
// request that gave up on it makes it suspect, and the next one goes to
// another node instead of reusing a connection to it.
func TestTransportLeavesANodeThatHung(t *testing.T) {
	release := make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
	defer hung.Close()
	defer close(release)
	live := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }))
	defer live.Close()

	tr, err := Transport(Config{Endpoint: hung.Listener.Addr().String() + "," + live.Listener.Addr().String()})
	require.NoError(t, err)
	defer tr.(*failoverTransport).CloseIdleConnections()
	client := &http.Client{Transport: tr}
	get := func(timeout time.Duration) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+hung.Listener.Addr().String()+"/bucket/key", nil)
		resp, err := client.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return string(body), err
	}
	_, err = get(100 * time.Millisecond)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	body, err := get(5 * time.Second)
	require.NoError(t, err)
	require.Equal(t, "ok", body)
}

// A request the caller cancelled says nothing about its node.
func TestTransportIgnoresACancelledRequest(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { close(started); <-release }))
	defer slow.Close()
	defer close(release)
	other := httptest.NewServer(http.NotFoundHandler())
	defer other.Close()
	tr, err := transport(Config{Endpoint: slow.Listener.Addr().String() + "," + other.Listener.Addr().String()})
	require.NoError(t, err)
	defer tr.CloseIdleConnections()

	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-started; cancel() }()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+slow.Listener.Addr().String()+"/", nil)
	_, err = tr.RoundTrip(req)
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, []int{0, 1}, tr.nodes.order())
}

// Presigned links name a node that answers: a link to a dead node fails
// whoever opens it. A client of one endpoint signs for it, as before.
func TestPresignedGetNamesALiveNode(t *testing.T) {
	live := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/minio/health/live" {
			http.NotFound(w, r)
		}
	}))
	defer live.Close()
	dead := closedAddr(t)
	ctx := context.Background()
	for endpoint, want := range map[string]string{
		dead + "," + live.Listener.Addr().String(): live.Listener.Addr().String(),
		live.Listener.Addr().String() + "," + dead: live.Listener.Addr().String(),
		dead: dead,
	} {
		client, err := NewClient(Config{Endpoint: endpoint, AccessKey: "k", SecretKey: "s"})
		require.NoError(t, err)
		u, err := PresignedGet(ctx, client, "bucket", "images/j/0.png", time.Minute)
		require.NoError(t, err)
		require.Equal(t, want, u.Host, endpoint)
		require.True(t, strings.HasPrefix(u.Path, "/bucket/images/j/0.png"), u.Path)
		require.NotEmpty(t, u.Query().Get("X-Amz-Signature"))
	}
}

// A node remembered live is checked again once liveFor has passed since
// its last passed check, however many links were signed in between.
func TestSignerChecksAgainAfterLiveFor(t *testing.T) {
	var checks atomic.Int32
	live := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { checks.Add(1) }))
	defer live.Close()
	client, err := NewClient(Config{Endpoint: live.Listener.Addr().String() + "," + closedAddr(t), AccessKey: "k", SecretKey: "s"})
	require.NoError(t, err)
	d, ok := deployments.Load(weak.Make(client))
	require.True(t, ok)
	now := time.Now()
	d.(*deployment).nodes.now = func() time.Time { return now }

	ctx := context.Background()
	for _, step := range []struct {
		after time.Duration
		want  int32
	}{{0, 1}, {liveFor * 3 / 5, 1}, {liveFor * 3 / 5, 2}} {
		now = now.Add(step.after)
		signer, err := Signer(ctx, client)
		require.NoError(t, err)
		require.Same(t, client, signer)
		require.Equal(t, step.want, checks.Load(), "health checks after %v more", step.after)
	}
}
