package webhook

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestInternalAddresses(t *testing.T) {
	t.Parallel()
	for addr, internal := range map[string]bool{
		"127.0.0.1": true, "127.1.2.3": true, "::1": true, // loopback
		"10.1.2.3": true, "172.16.0.1": true, "192.168.1.1": true, "fd00::1": true, // private
		"169.254.169.254": true, "fe80::1": true, // link-local: cloud metadata
		"0.0.0.0": true, "::": true, "0.1.2.3": true, // unspecified, "this network"
		"100.64.0.1": true, "198.18.0.1": true, "240.0.0.1": true, "255.255.255.255": true, "224.0.0.1": true, "ff02::1": true,
		"::ffff:127.0.0.1": true, "::ffff:169.254.169.254": true, // IPv4-mapped
		"64:ff9b::a9fe:a9fe": true, // NAT64 of 169.254.169.254
		"93.184.216.34":      false, "1.1.1.1": false, "2606:4700::1111": false, "64:ff9b::5db8:d822": false,
		"172.32.0.1": false, "100.128.0.1": false,
	} {
		require.Equal(t, internal, Internal(netip.MustParseAddr(addr)), addr)
	}
}

func TestJudge(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		code    int
		err     error
		outcome string
		retry   bool
	}{
		{200, nil, OutcomeDelivered, false},
		{204, nil, OutcomeDelivered, false},
		{299, nil, OutcomeDelivered, false},
		{410, nil, OutcomeGone, false},
		{301, nil, OutcomeHTTPError, true}, // redirects are not followed
		{400, nil, OutcomeHTTPError, true},
		{429, nil, OutcomeHTTPError, true},
		{500, nil, OutcomeHTTPError, true},
		{0, errors.New("connection refused"), OutcomeNetworkError, true},
		{0, context.DeadlineExceeded, OutcomeNetworkError, true},
		{0, ErrRefused, OutcomeRefused, false},
	} {
		outcome, retry := judge(c.code, c.err)
		require.Equal(t, c.outcome, outcome, "%d %v", c.code, c.err)
		require.Equal(t, c.retry, retry, "%d %v", c.code, c.err)
	}
}

// capture is a receiver on this host that keeps what it was sent.
type capture struct {
	mu      sync.Mutex
	headers http.Header
	body    []byte
}

func (c *capture) handler(code int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.headers, c.body = r.Header.Clone(), nil
		c.body, _ = io.ReadAll(r.Body)
		c.mu.Unlock()
		if code == http.StatusFound {
			w.Header().Set("Location", "http://169.254.169.254/")
		}
		w.WriteHeader(code)
	}
}

func TestSenderSignsAndChecksTheAddressItDials(t *testing.T) {
	t.Parallel()
	var got capture
	srv := httptest.NewServer(got.handler(http.StatusOK))
	defer srv.Close()
	s := &Sender{Client: NewClient(), Secret: []byte("0123456789abcdef"), Timeout: 5 * time.Second}
	defer s.Client.CloseIdleConnections()
	call := Call{URL: srv.URL + "/cb", JobID: "J", Delivery: "J.0", Body: []byte(`{"job_id":"J"}`)}

	// The server listens on 127.0.0.1: only an exact entry may reach it.
	_, err := s.Post(context.Background(), call)
	require.ErrorIs(t, err, ErrRefused)
	outcome, _ := judge(0, err)
	require.Equal(t, OutcomeRefused, outcome)

	call.Exact = true
	code, err := s.Post(context.Background(), call)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code)
	got.mu.Lock()
	defer got.mu.Unlock()
	require.Equal(t, call.Body, got.body)
	require.Equal(t, "J", got.headers.Get(HeaderJobID))
	require.Equal(t, "J.0", got.headers.Get(HeaderDelivery))
	require.Equal(t, "application/json", got.headers.Get("Content-Type"))
	require.NoError(t, Verify(s.Secret, got.headers.Get(HeaderSignature), got.body, time.Now(), time.Minute))
}

func TestSenderFollowsNoRedirectAndTimesOut(t *testing.T) {
	t.Parallel()
	var got capture
	redirect := httptest.NewServer(got.handler(http.StatusFound))
	defer redirect.Close()
	block := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-block }))
	defer slow.Close()
	defer close(block)
	s := &Sender{Client: NewClient(), Secret: []byte("0123456789abcdef"), Timeout: 200 * time.Millisecond}
	defer s.Client.CloseIdleConnections()

	code, err := s.Post(context.Background(), Call{URL: redirect.URL, Exact: true})
	require.NoError(t, err)
	require.Equal(t, http.StatusFound, code, "the redirect is an answer, not followed")

	_, err = s.Post(context.Background(), Call{URL: slow.URL, Exact: true})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	outcome, retry := judge(0, err)
	require.Equal(t, OutcomeNetworkError, outcome)
	require.True(t, retry)
}
