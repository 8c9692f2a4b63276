// Package httpapi serves ingest's health and metrics endpoints.
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"go.uber.org/zap"
)

// Server serves /healthz and /metrics.
type Server struct {
	srv *http.Server
	log *zap.Logger
	ln  net.Listener
}

// New makes the server; Start listens. ready says whether ingest takes
// requests now (connected, bound to its consumer).
func New(addr string, metrics http.Handler, ready func() error, logger *zap.Logger) *Server {
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
	return &Server{srv: &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}, log: logger.Named("http")}
}

// Start listens and serves in the background.
func (s *Server) Start() error {
	ln, err := net.Listen("tcp", s.srv.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", s.srv.Addr, err)
	}
	s.ln = ln
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("serve", zap.Error(err))
		}
	}()
	return nil
}

// Stop shuts the server down within ctx.
func (s *Server) Stop(ctx context.Context) error { return s.srv.Shutdown(ctx) }
