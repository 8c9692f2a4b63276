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

	"cyberimage/services/ingest/internal/intake"
)

// Server serves /healthz and /metrics.
type Server struct {
	srv *http.Server
	log *zap.Logger
	ln  net.Listener
}

// New makes the server; Start listens.
func New(addr string, stats *intake.Stats, logger *zap.Logger) *Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		stats.WritePrometheus(w)
	})
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
