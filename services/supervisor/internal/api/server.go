// Package api serves the supervisor's HTTP endpoints: health, status, job
// lookups with presigned image URLs, the original app's queue counts, and
// metrics. Every route has an owner (auth.go): reads, submissions and
// admin actions each need their token, and what one client may hold
// (event streams, bucket scans, submissions a minute) is capped.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"cyberimage/services/supervisor/internal/console"
	"cyberimage/services/supervisor/internal/index"
	"cyberimage/services/supervisor/internal/recoveries"
	"cyberimage/services/supervisor/internal/stats"
	"cyberimage/services/supervisor/internal/tracker"
	"cyberimage/services/supervisor/internal/watchdog"
	"cyberimage/services/supervisor/internal/webhook"
	"cyberimage/shared/bus"
	"cyberimage/shared/defaults"
	"cyberimage/shared/httpserve"
	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
	"cyberimage/shared/metrics"
	"cyberimage/shared/models"
	"cyberimage/shared/quota"
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
	// turns those endpoints off. It also reads and submits.
	AdminToken string
	// ReadToken must be presented to read (status, lists, job lookups,
	// events, metrics); empty leaves reads open.
	ReadToken string
	// SubmitToken must be presented to submit jobs over HTTP; empty lets
	// only clients on this host submit.
	SubmitToken string
	// ClientTokens are the clients' own submit tokens, by client name: a
	// request with one is submitted as that client (its quota at ingest).
	ClientTokens map[string]string
	// SubmitRate is how many submissions a minute each token may make, in
	// bursts of as many (0: no limit).
	SubmitRate int
	// Quotas are the per-client limits ingest enforces, shown beside each
	// client's use (GET /v1/clients).
	Quotas quota.Table
	// TLS is the listener's certificate; empty: plain HTTP.
	TLS httpserve.TLS
	// Limits: zero fields take the defaults.
	Limits Limits
	// Now is the clock of the rate limit (nil: time.Now).
	Now func() time.Time
	// Ready says what, beyond the NATS connection, keeps this replica from
	// doing its work (nil: ready).
	Ready func() error
	// Reload orders a runner to reload its models and returns the order's
	// id (nil: the action is off).
	Reload func(ctx context.Context, runner string) (string, error)
	// Drains drains and undrains runners (nil: the action is off).
	Drains Drains
	// Stats are the figures over time (GET /v1/stats, the runner page's
	// series); nil turns them off.
	Stats *stats.Recorder
	// RunnerHistory reads what the watchdog remembers of a runner (nil:
	// the runner page goes without).
	RunnerHistory func(ctx context.Context, runner string) (watchdog.History, error)
	Logger        *zap.Logger
	// Callback reads a job's webhook delivery for its view (nil: none
	// shown).
	Callback func(ctx context.Context, rec job.Record) (*webhook.Status, error)
	// Collectors are more series for /metrics (the webhooks').
	Collectors []prometheus.Collector
}

// Limits bound what clients may hold at once.
type Limits struct {
	// Streams bounds the GET /v1/events streams open at once (256), and
	// StreamsPerClient those of one client address (32).
	Streams, StreamsPerClient int
	// Scans bounds the listings reading the bucket at once (2), and
	// ScanTimeout each one (15 s).
	Scans       int
	ScanTimeout time.Duration
	// Timeouts of the server (zero: httpserve.DefaultTimeouts).
	Timeouts httpserve.Timeouts
}

func (l Limits) withDefaults() Limits {
	l.Streams = defaults.Positive(l.Streams, 256)
	l.StreamsPerClient = defaults.Positive(l.StreamsPerClient, 32)
	l.Scans = defaults.Positive(l.Scans, 2)
	l.ScanTimeout = defaults.Positive(l.ScanTimeout, scanTimeoutDefault)
	return l
}

// Server is the HTTP API.
type Server struct {
	p       Params
	log     *zap.Logger
	limits  Limits
	handler http.Handler
	http    *httpserve.Server
	streams *streamCaps
	hub     *eventHub // the event streams' shared subscriptions (events.go)
	scans   scanGate
	submits *limiter
	room    *requestRoom
	tokens  []configuredToken // hashed once, by New: see grantsOf
}

// New makes the server; Start listens.
func New(p Params) *Server {
	if p.Now == nil {
		p.Now = time.Now
	}
	limits := p.Limits.withDefaults()
	s := &Server{p: p, log: p.Logger.Named("api"), limits: limits,
		streams: newStreamCaps(limits.Streams, limits.StreamsPerClient),
		scans:   make(scanGate, limits.Scans), submits: newLimiter(p.SubmitRate, p.Now), room: &requestRoom{js: p.JS},
		tokens: hashTokens(p), hub: newEventHub(p.NC, p.Drops)}
	mux := http.NewServeMux()
	// livez: the process runs; readyz (and healthz, as it always meant):
	// it can serve and, when leading, act.
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.healthz)
	mux.HandleFunc("GET /healthz", s.healthz)
	// Every other route has an owner (auth.go): health and the console's
	// files hold no data and are open; reads need the read token,
	// submissions the submit token, changes the admin token. The event
	// stream checks its own, since it also takes the console's cookie.
	page := console.Handler()
	mux.Handle("GET /{$}", page)
	mux.Handle("GET /console/", page)
	mux.HandleFunc("GET /status", s.reader(s.status))
	mux.HandleFunc("GET /v1/events", s.events)
	mux.HandleFunc("GET /v1/jobs", s.reader(s.list))
	mux.HandleFunc("POST /v1/jobs", s.submitter(s.submit, false))
	mux.HandleFunc("POST /api/generate", s.submitter(s.generate, true))
	mux.HandleFunc("GET /api/status/{id}", s.reader(s.legacyJobStatus))
	mux.HandleFunc("GET /v1/jobs/{id}", s.reader(s.job))
	mux.HandleFunc("POST /v1/jobs/{id}/retry", s.admin(s.retry))
	mux.HandleFunc("POST /v1/jobs/retry-failed", s.admin(s.retryFailed))
	mux.HandleFunc("POST /v1/jobs/purge", s.admin(s.purge))
	mux.HandleFunc("POST /v1/runners/{runner}/reload", s.admin(s.reload))
	mux.HandleFunc("POST /v1/runners/{runner}/drain", s.admin(s.drainRunner(true)))
	mux.HandleFunc("POST /v1/runners/{runner}/undrain", s.admin(s.drainRunner(false)))
	mux.HandleFunc("POST /v1/models/{model}/pause", s.admin(s.pauseModel(true)))
	mux.HandleFunc("POST /v1/models/{model}/resume", s.admin(s.pauseModel(false)))
	mux.HandleFunc("POST /v1/jobs/{id}/cancel", s.admin(s.cancel))
	mux.HandleFunc("GET /api/queue", s.reader(s.queue))
	mux.HandleFunc("GET /v1/models", s.reader(s.models))
	mux.HandleFunc("GET /v1/stats", s.reader(s.stats))
	mux.HandleFunc("GET /v1/runners/{runner}", s.reader(s.runner))
	mux.HandleFunc("GET /v1/clients", s.reader(s.clients))
	mux.HandleFunc("GET /v1/dead-letters", s.reader(s.deadLetters))
	mux.HandleFunc("POST /v1/dead-letters/{job_id}/requeue", s.admin(s.onLetters(s.requeueDeadLetter)))
	mux.HandleFunc("DELETE /v1/dead-letters/{job_id}", s.admin(s.onLetters(s.deleteDeadLetter)))
	mux.HandleFunc("GET /api/models", s.reader(s.models))
	reg := metrics.New("supervisor")
	reg.MustRegister(supervisorCollector{s}, clientCollector{s})
	reg.MustRegister(p.Collectors...)
	if p.NC != nil {
		metrics.NATS(reg, p.NC, p.Drops)
	}
	mux.Handle("GET /metrics", s.reader(metrics.Handler(reg).ServeHTTP))
	s.handler = mux
	s.http = httpserve.New(httpserve.Params{Addr: p.Addr, Handler: mux, TLS: p.TLS, Timeouts: limits.Timeouts, Logger: s.log})
	return s
}

// Start listens and serves in the background. It warns when the listener
// takes connections from beyond this host while reads need no token, or
// while tokens would cross the network in clear.
func (s *Server) Start(context.Context) error {
	if err := s.http.Start(); err != nil {
		return err
	}
	addr := s.http.Addr()
	reads, submits := "token", "token"
	if s.p.ReadToken == "" {
		reads = "open"
	}
	if s.p.SubmitToken == "" {
		submits = "this host only"
	}
	s.log.Info("http", zap.Stringer("addr", addr), zap.Bool("tls", s.http.TLS()), zap.String("reads", reads),
		zap.String("submits", submits), zap.Int("client_tokens", len(s.p.ClientTokens)), zap.Bool("admin", s.p.AdminToken != ""), zap.Int("submit_rate", s.p.SubmitRate))
	if loopbackListener(addr) {
		return nil
	}
	if s.p.ReadToken == "" {
		s.log.Warn("reads are open to anyone who can reach this address (every prompt, job, image URL and event): set CYBERIMAGE_READ_TOKEN, or listen on an address you mean to expose", zap.Stringer("addr", addr))
	}
	if !s.http.TLS() && (s.p.ReadToken != "" || s.p.SubmitToken != "" || s.p.AdminToken != "" || len(s.p.ClientTokens) > 0) {
		s.log.Warn("tokens cross the network in clear: set CYBERIMAGE_HTTP_TLS_CERT and _KEY, or serve through a TLS proxy", zap.Stringer("addr", addr))
	}
	return nil
}

// Addr is where the server listens (nil before Start).
func (s *Server) Addr() net.Addr { return s.http.Addr() }

// Stop shuts the server down within ctx; event streams end at once. A
// shutdown cut short by ctx is not a failure of the service: the
// connections left close with the process.
func (s *Server) Stop(ctx context.Context) error {
	if err := s.http.Stop(ctx); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

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

// refusal is how an action answers one error it expects: a job that is
// not there, or not in a state the action applies to.
type refusal struct {
	err    error
	status int
	msg    string
}

// writeFailure answers err, the failure of an operator's action: with the
// first refusal err is (errors.Is), or else 503, for what failed is the
// store or the bus and the action may be tried again. It reports whether
// err was an error, answered.
func writeFailure(w http.ResponseWriter, err error, refusals ...refusal) bool {
	if err == nil {
		return false
	}
	for _, r := range refusals {
		if errors.Is(err, r.err) {
			writeError(w, r.status, r.msg)
			return true
		}
	}
	writeError(w, http.StatusServiceUnavailable, err.Error())
	return true
}

// writeErrorCode is writeError with a stable code for programs to test.
func writeErrorCode(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
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
