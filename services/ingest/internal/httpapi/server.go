// Package httpapi serves ingest's health and metrics endpoints.
package httpapi

import (
	"context"
	"fmt"
	"net"
	"net/http"

	"go.uber.org/zap"

	"cyberimage/shared/httpserve"
)

// Server serves /livez, /readyz, /healthz and /metrics.
type Server struct {
	http *httpserve.Server
}

// Option changes how the server listens.
type Option func(*httpserve.Params)

// WithTLS serves HTTPS with the certificate of CYBERIMAGE_HTTP_TLS_CERT
// and _KEY (empty: plain HTTP).
func WithTLS(t httpserve.TLS) Option { return func(p *httpserve.Params) { p.TLS = t } }

// New makes the server; Start listens. ready says whether ingest takes
// requests now (connected, bound to its consumer).
func New(addr string, metrics http.Handler, ready func() error, logger *zap.Logger, opts ...Option) *Server {
	mux := http.NewServeMux()
	// livez: the process runs (restart it if this fails); readyz: it takes
	// requests (send none while this fails). healthz is readyz, as it was
	// meant: it used to answer ok while ingest had lost its consumer.
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	readyz := func(w http.ResponseWriter, _ *http.Request) {
		if err := ready(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "not ready:", err)
			return
		}
		fmt.Fprintln(w, "ok")
	}
	mux.HandleFunc("GET /readyz", readyz)
	mux.HandleFunc("GET /healthz", readyz)
	mux.Handle("GET /metrics", metrics)
	p := httpserve.Params{Addr: addr, Handler: mux, Logger: logger.Named("http")}
	for _, o := range opts {
		o(&p)
	}
	return &Server{http: httpserve.New(p)}
}

// Start listens and serves in the background.
func (s *Server) Start(context.Context) error { return s.http.Start() }

// Addr is where the server listens (nil before Start).
func (s *Server) Addr() net.Addr { return s.http.Addr() }

// Stop shuts the server down within ctx. A shutdown cut short by ctx is
// not a failure of the service: the connections left close with the
// process.
func (s *Server) Stop(ctx context.Context) error {
	if err := s.http.Stop(ctx); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}
