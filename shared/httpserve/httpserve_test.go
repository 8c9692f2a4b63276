package httpserve

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"cyberimage/shared/config"
	"cyberimage/shared/httpserve/httpservetest"
)

// selfSigned is a throwaway certificate for 127.0.0.1.
func selfSigned(t *testing.T) (TLS, *x509.CertPool) {
	cert, key, pool := httpservetest.SelfSigned(t)
	return TLS{Cert: cert, Key: key}, pool
}

// TestMain fails the package if a test leaves a goroutine running.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// short are compressed timeouts: each test waits for the server to act on
// one of them, never for a fixed time.
var short = Timeouts{ReadHeader: 200 * time.Millisecond, Read: 300 * time.Millisecond, Write: 300 * time.Millisecond,
	Idle: 300 * time.Millisecond, MaxHeaderBytes: 4 << 10}

func start(t *testing.T, h http.Handler, tlsFiles TLS) *Server {
	t.Helper()
	s := New(Params{Addr: "127.0.0.1:0", Handler: h, TLS: tlsFiles, Timeouts: short, Logger: zaptest.NewLogger(t)})
	require.NoError(t, s.Start())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, s.Stop(ctx))
	})
	return s
}

// closedWithin reads from conn until the server closes it; it fails the
// test when the server has not closed it within d (its timeout is off).
func closedWithin(t *testing.T, conn net.Conn, d time.Duration, what string) {
	t.Helper()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(d)))
	_, err := io.Copy(io.Discard, conn)
	var ne net.Error
	require.False(t, errors.As(err, &ne) && ne.Timeout(), "%s: the server kept the connection open for %s", what, d)
}

// A client that never finishes its headers, or idles on a kept-alive
// connection, is cut off; so is a client that sends headers over the
// limit.
func TestSlowAndIdleClientsAreCutOff(t *testing.T) {
	s := start(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }), TLS{})
	addr := s.Addr().String()

	slow, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer slow.Close()
	_, err = io.WriteString(slow, "GET / HTTP/1.1\r\nHost: x\r\n") // and never the blank line
	require.NoError(t, err)
	closedWithin(t, slow, 5*time.Second, "headers never finished")

	idle, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer idle.Close()
	_, err = io.WriteString(idle, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(idle), nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp.Body.Close()
	closedWithin(t, idle, 5*time.Second, "kept alive and idle")

	big, err := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
	require.NoError(t, err)
	big.Header.Set("X-Padding", strings.Repeat("p", 8<<10))
	resp, err = http.DefaultClient.Do(big)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusRequestHeaderFieldsTooLarge, resp.StatusCode)
	http.DefaultClient.CloseIdleConnections()
}

// handlers serves /slow, a response that writes until a write fails (the
// write timeout) or 5 s pass, and /stream, a stream that lifts its
// deadlines and runs for three times the write timeout; each reports how
// it ended.
func handlers() (h http.Handler, cut, streamed chan error) {
	cut, streamed = make(chan error, 1), make(chan error, 1)
	mux := http.NewServeMux()
	chunk := bytes.Repeat([]byte("x"), 1024)
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		pace := time.NewTicker(10 * time.Millisecond) // a chunk every 10 ms, not a wait for a result
		defer pace.Stop()
		for end := time.Now().Add(5 * time.Second); time.Now().Before(end); {
			if _, err := w.Write(chunk); err != nil {
				cut <- err
				return
			}
			_ = http.NewResponseController(w).Flush()
			<-pace.C
		}
		cut <- nil
	})
	mux.HandleFunc("GET /stream", func(w http.ResponseWriter, r *http.Request) {
		if err := Unbounded(w); err != nil {
			streamed <- err
			return
		}
		pace := time.NewTicker(10 * time.Millisecond) // a tick every 10 ms
		defer pace.Stop()
		for end := time.Now().Add(3 * short.Write); time.Now().Before(end); {
			if _, err := w.Write([]byte("tick\n")); err != nil {
				streamed <- err
				return
			}
			if err := http.NewResponseController(w).Flush(); err != nil {
				streamed <- err
				return
			}
			if r.Context().Err() != nil {
				streamed <- r.Context().Err()
				return
			}
			<-pace.C
		}
		_, err := w.Write([]byte("done\n"))
		streamed <- err
	})
	return mux, cut, streamed
}

// A response that runs past the write timeout is cut: its writes start
// failing; a stream that lifted its deadlines (Unbounded) outlives both
// the read and the write timeout, over HTTP/1.1 and over HTTPS (HTTP/2).
func TestWriteTimeoutCutsResponsesButNotStreams(t *testing.T) {
	files, pool := selfSigned(t)
	for name, tc := range map[string]struct {
		files  TLS
		client *http.Client
		proto  string
	}{
		"http":  {TLS{}, &http.Client{Transport: &http.Transport{}}, "HTTP/1.1"},
		"https": {files, &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}, "HTTP/2.0"},
	} {
		t.Run(name, func(t *testing.T) {
			defer tc.client.CloseIdleConnections()
			h, cut, streamed := handlers()
			s := start(t, h, tc.files)
			base := "http://" + s.Addr().String()
			if s.TLS() {
				base = "https://" + s.Addr().String()
			}

			resp, err := tc.client.Get(base + "/slow")
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			select {
			case err := <-cut:
				require.Error(t, err, "the response ran 5 s: no write timeout")
			case <-time.After(10 * time.Second):
				t.Fatal("the slow handler never ended")
			}

			resp, err = tc.client.Get(base + "/stream")
			require.NoError(t, err)
			require.Equal(t, tc.proto, resp.Proto)
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			require.NoError(t, <-streamed)
			require.True(t, strings.HasSuffix(string(body), "done\n"), "the stream ran to its end: %q", body)
		})
	}
}

// With a certificate the listener speaks HTTPS only.
func TestTLS(t *testing.T) {
	files, pool := selfSigned(t)
	s := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Proto)
	}), files)
	require.True(t, s.TLS())
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer client.CloseIdleConnections()
	resp, err := client.Get("https://" + s.Addr().String() + "/")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	plain, err := http.Get("http://" + s.Addr().String() + "/")
	require.NoError(t, err)
	plain.Body.Close()
	require.Equal(t, http.StatusBadRequest, plain.StatusCode, "plain HTTP to the HTTPS listener")
	http.DefaultClient.CloseIdleConnections()
}

// Stop ends streams that never end on their own instead of waiting them
// out.
func TestStopEndsStreams(t *testing.T) {
	open := make(chan struct{})
	var s *Server
	s = New(Params{Addr: "127.0.0.1:0", Timeouts: short, Logger: zaptest.NewLogger(t),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_ = Unbounded(w)
			w.WriteHeader(http.StatusOK)
			http.NewResponseController(w).Flush()
			close(open)
			select {
			case <-r.Context().Done():
			case <-s.Stopping():
			}
		})})
	require.NoError(t, s.Start())
	resp, err := http.Get("http://" + s.Addr().String() + "/")
	require.NoError(t, err)
	defer resp.Body.Close()
	<-open
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, s.Stop(ctx), "Stop waited out its deadline for the stream")
	http.DefaultClient.CloseIdleConnections()
}

func TestTLSSettingsGoTogetherAndLoad(t *testing.T) {
	files, _ := selfSigned(t)
	check := func(env map[string]string) error {
		l := config.NewLoaderWithEnv("x", io.Discard, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		var s TLS
		s.Bind(l)
		require.NoError(t, l.Parse(nil))
		s.Check(l)
		return l.Err()
	}
	require.NoError(t, check(nil))
	require.NoError(t, check(map[string]string{"CYBERIMAGE_HTTP_TLS_CERT": files.Cert, "CYBERIMAGE_HTTP_TLS_KEY": files.Key}))
	require.ErrorContains(t, check(map[string]string{"CYBERIMAGE_HTTP_TLS_CERT": files.Cert}), "go together")
	require.ErrorContains(t, check(map[string]string{"CYBERIMAGE_HTTP_TLS_CERT": files.Key, "CYBERIMAGE_HTTP_TLS_KEY": files.Key}), "CYBERIMAGE_HTTP_TLS_CERT")
}
