package api

import (
	"context"
	"crypto/tls"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"cyberimage/shared/httpserve"
	"cyberimage/shared/httpserve/httpservetest"
)

func startServer(t *testing.T, f *apiFixture) {
	t.Helper()
	require.NoError(t, f.srv.Start(t.Context()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, f.srv.Stop(ctx))
	})
}

// With a certificate the API speaks HTTPS only, so tokens never cross the
// network in clear.
func TestServesHTTPS(t *testing.T) {
	cert, key, pool := httpservetest.SelfSigned(t)
	f := newAPIFixture(t, withTokens, func(p *Params) { p.TLS = httpserve.TLS{Cert: cert, Key: key} })
	startServer(t, f)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer client.CloseIdleConnections()
	req, err := http.NewRequest("GET", "https://"+f.srv.Addr().String()+"/status", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+readToken)
	resp, err := client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	plain, err := http.Get("http://" + f.srv.Addr().String() + "/livez")
	require.NoError(t, err)
	plain.Body.Close()
	require.Equal(t, http.StatusBadRequest, plain.StatusCode, "plain HTTP to the HTTPS listener")
	http.DefaultClient.CloseIdleConnections()
}

// Listening beyond loopback with open reads, or with tokens over plain
// HTTP, is logged as a warning at start; on loopback it is not.
func TestWarnsWhenExposed(t *testing.T) {
	for name, tc := range map[string]struct {
		addr   string
		tokens bool
		want   []string
	}{
		"loopback, no tokens":   {"127.0.0.1:0", false, nil},
		"loopback, tokens":      {"127.0.0.1:0", true, nil},
		"everywhere, no tokens": {"0.0.0.0:0", false, []string{"reads are open"}},
		"everywhere, tokens":    {"0.0.0.0:0", true, []string{"tokens cross the network in clear"}},
	} {
		t.Run(name, func(t *testing.T) {
			core, logs := observer.New(zapcore.WarnLevel)
			f := newAPIFixture(t, func(p *Params) {
				p.Addr, p.Logger = tc.addr, zap.New(core)
				if tc.tokens {
					withTokens(p)
				} else {
					p.AdminToken = ""
				}
			})
			startServer(t, f)
			var got []string
			for _, e := range logs.All() {
				got = append(got, e.Message)
			}
			require.Len(t, got, len(tc.want), "%q", got)
			for i, w := range tc.want {
				require.Contains(t, got[i], w)
			}
		})
	}
}
