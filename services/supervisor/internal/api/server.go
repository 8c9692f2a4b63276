// Package api serves the supervisor's HTTP endpoints: health, status, job
// lookups with presigned image URLs, the original app's queue counts, and
// metrics.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"cyberimage/services/supervisor/internal/console"
	"cyberimage/services/supervisor/internal/index"
	"cyberimage/services/supervisor/internal/recoveries"
	"cyberimage/services/supervisor/internal/tracker"
	"cyberimage/shared/bus"
	"cyberimage/shared/jobstore"
	"cyberimage/shared/metrics"
	"cyberimage/shared/models"
)

// Params are what the Server needs.
type Params struct {
	Addr string
	// NC publishes requests submitted over HTTP.
	NC         *nats.Conn
	JS         jetstream.JetStream
	Store      *jobstore.Store
	Index      *index.Index
	Tracker    *tracker.Tracker
	S3         *minio.Client
	Bucket     string
	PresignTTL time.Duration
	Recoveries *recoveries.Log
	// Catalog is the configured models; nil when the supervisor has none.
	Catalog *models.Catalog
	// Unhealthy says whether the watchdog marked a runner unhealthy.
	Unhealthy func(runner string) bool
	// Leader says whether this replica acts, and who does.
	Leader func() (self bool, holder string)
	// Drops counts bus messages dropped as malformed or not believed.
	Drops *bus.Drops
	// AdminToken must be presented as a bearer token to change jobs; empty
	// turns those endpoints off.
	AdminToken string
	// Ready says what, beyond the NATS connection, keeps this replica from
	// doing its work (nil: ready).
	Ready func() error
	// Reload orders a runner to reload its models and returns the order's
	// id (nil: the action is off).
	Reload func(ctx context.Context, runner string) (string, error)
	Logger *zap.Logger
}

// Server is the HTTP API.
type Server struct {
	p   Params
	log *zap.Logger
	srv *http.Server
	// eventStreams counts the open GET /v1/events streams.
	eventStreams atomic.Int64
}

// New makes the server; Start listens.
func New(p Params) *Server {
	s := &Server{p: p, log: p.Logger.Named("api")}
	mux := http.NewServeMux()
	// livez: the process runs; readyz (and healthz, as it always meant):
	// it can serve and, when leading, act.
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.healthz)
	mux.HandleFunc("GET /healthz", s.healthz)
	page := console.Handler()
	mux.Handle("GET /{$}", page)
	mux.Handle("GET /console/", page)
	mux.HandleFunc("GET /status", s.status)
	mux.HandleFunc("GET /v1/events", s.events)
	mux.HandleFunc("GET /v1/jobs", s.list)
	mux.HandleFunc("POST /v1/jobs", s.submit)
	mux.HandleFunc("POST /api/generate", s.generate)
	mux.HandleFunc("GET /api/status/{id}", s.legacyJobStatus)
	mux.HandleFunc("GET /v1/jobs/{id}", s.job)
	mux.HandleFunc("POST /v1/jobs/{id}/retry", s.admin(s.retry))
	mux.HandleFunc("POST /v1/jobs/retry-failed", s.admin(s.retryFailed))
	mux.HandleFunc("POST /v1/jobs/purge", s.admin(s.purge))
	mux.HandleFunc("POST /v1/runners/{runner}/reload", s.admin(s.reload))
	mux.HandleFunc("POST /v1/jobs/{id}/cancel", s.admin(s.cancel))
	mux.HandleFunc("GET /api/queue", s.queue)
	mux.HandleFunc("GET /v1/models", s.models)
	mux.HandleFunc("GET /api/models", s.models)
	reg := metrics.New("supervisor")
	reg.MustRegister(supervisorCollector{s})
	if p.NC != nil {
		metrics.NATS(reg, p.NC, p.Drops)
	}
	mux.Handle("GET /metrics", metrics.Handler(reg))
	s.srv = &http.Server{Addr: p.Addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	return s
}

// Start listens and serves in the background.
func (s *Server) Start() error {
	ln, err := net.Listen("tcp", s.p.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", s.p.Addr, err)
	}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("serve", zap.Error(err))
		}
	}()
	return nil
}

// Stop shuts the server down within ctx.
func (s *Server) Stop(ctx context.Context) error { return s.srv.Shutdown(ctx) }

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]any{"error": map[string]string{"message": msg}})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	if s.p.JS.Conn().Status() != nats.CONNECTED {
		writeError(w, http.StatusServiceUnavailable, "not connected to NATS")
		return
	}
	if s.p.Ready != nil {
		if err := s.p.Ready(); err != nil {
			writeError(w, http.StatusServiceUnavailable, "not ready: "+err.Error())
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}
