package httpapi

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"cyberimage/shared/httpserve"
	"cyberimage/shared/httpserve/httpservetest"
)

// TestMain fails the package if a test leaves a goroutine running.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// With CYBERIMAGE_HTTP_TLS_CERT and _KEY, ingest's health and metrics are
// served over HTTPS only; readyz says why ingest is not ready.
func TestHealthOverTLS(t *testing.T) {
	cert, key, pool := httpservetest.SelfSigned(t)
	notReady := errors.New("not bound to the ingest consumer")
	var bound atomic.Bool
	bound.Store(true)
	ready := func() error {
		if !bound.Load() {
			return notReady
		}
		return nil
	}
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "cyberimage_up 1\n") })
	s := New("127.0.0.1:0", metrics, ready, zaptest.NewLogger(t), WithTLS(httpserve.TLS{Cert: cert, Key: key}))
	require.NoError(t, s.Start(t.Context()))
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, s.Stop(ctx))
	}()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer client.CloseIdleConnections()
	base := "https://" + s.Addr().String()
	get := func(c *http.Client, url string) (int, string) {
		resp, err := c.Get(url)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	for _, path := range []string{"/livez", "/readyz", "/healthz", "/metrics"} {
		code, _ := get(client, base+path)
		require.Equal(t, http.StatusOK, code, path)
	}
	bound.Store(false)
	code, body := get(client, base+"/readyz")
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Contains(t, body, notReady.Error())

	code, _ = get(http.DefaultClient, "http://"+s.Addr().String()+"/livez")
	require.Equal(t, http.StatusBadRequest, code, "plain HTTP to the HTTPS listener")
	http.DefaultClient.CloseIdleConnections()
}
