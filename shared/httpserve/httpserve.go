// Package httpserve runs the services' HTTP listeners one way: every server
// timeout set, headers bounded, TLS when a certificate is configured, and a
// signal that tells long-lived responses (server-sent events) the server is
// stopping, since Shutdown waits for them but never cancels them.
package httpserve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Timeouts bound what one connection may hold. A slow or silent client
// cannot keep a goroutine and a socket for longer than these.
type Timeouts struct {
	// ReadHeader is the time to read a request's headers (slowloris).
	ReadHeader time.Duration
	// Read is the time to read a whole request, body included.
	Read time.Duration
	// Write is the time from the end of the request's headers to the end
	// of the response; streams lift it (Unbounded).
	Write time.Duration
	// Idle is how long a kept-alive connection waits for its next request.
	Idle time.Duration
	// MaxHeaderBytes bounds a request's headers.
	MaxHeaderBytes int
}

// DefaultTimeouts fit every endpoint the services serve: the slowest
// answers (a submit waiting 10 s for ingest, a bucket scan bounded at 15 s)
// end well within Write.
func DefaultTimeouts() Timeouts {
	return Timeouts{ReadHeader: 5 * time.Second, Read: 30 * time.Second, Write: 60 * time.Second,
		Idle: 2 * time.Minute, MaxHeaderBytes: 32 << 10}
}

// Params are what a Server needs.
type Params struct {
	Addr    string
	Handler http.Handler
	TLS     TLS
	// Timeouts: the zero value takes DefaultTimeouts.
	Timeouts Timeouts
	Logger   *zap.Logger
}

// Server is one HTTP listener.
type Server struct {
	p        Params
	srv      *http.Server
	ln       net.Listener
	stopping chan struct{}
	stopOnce sync.Once
}

// New makes the server; Start listens.
func New(p Params) *Server {
	if p.Logger == nil {
		p.Logger = zap.NewNop()
	}
	return &Server{p: p, stopping: make(chan struct{}), srv: NewHTTPServer(p.Handler, p.Timeouts, p.Logger)}
}

// NewHTTPServer is an http.Server with every timeout set (the zero
// Timeouts: DefaultTimeouts), for a service that keeps its own; serve it
// on a listener from TLS.Listen.
func NewHTTPServer(h http.Handler, t Timeouts, logger *zap.Logger) *http.Server {
	if t == (Timeouts{}) {
		t = DefaultTimeouts()
	}
	return &http.Server{Handler: h, ReadHeaderTimeout: t.ReadHeader, ReadTimeout: t.Read,
		WriteTimeout: t.Write, IdleTimeout: t.Idle, MaxHeaderBytes: t.MaxHeaderBytes,
		// Handshake failures and the like, at info: a client's mistake.
		ErrorLog: zap.NewStdLog(logger.Named("http"))}
}

// Start listens and serves in the background. A configured certificate
// that cannot be loaded fails here, before anything listens.
func (s *Server) Start() error {
	ln, err := s.p.TLS.Listen(s.p.Addr)
	if err != nil {
		return err
	}
	s.ln = ln
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.p.Logger.Error("serve", zap.String("addr", s.p.Addr), zap.Error(err))
		}
	}()
	return nil
}

// Addr is where the server listens (nil before Start).
func (s *Server) Addr() net.Addr {
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// TLS tells whether the server speaks HTTPS.
func (s *Server) TLS() bool { return s.p.TLS.Enabled() }

// Stopping is closed when Stop begins: a streaming handler ends its
// stream on it, so Shutdown does not wait out its deadline for streams
// that never end on their own.
func (s *Server) Stopping() <-chan struct{} { return s.stopping }

// Stop stops accepting, ends streams and waits for requests in flight,
// within ctx.
func (s *Server) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() { close(s.stopping) })
	return s.srv.Shutdown(ctx)
}

// Unbounded lifts the deadlines of one long-lived response (a server-sent
// event stream): the server's timeouts are for requests that end, and the
// write deadline would cut the stream (over HTTP/2, reset it) at the
// server's write timeout. The read deadline goes too, so no part of the
// request's time budget is left to end it.
func Unbounded(w http.ResponseWriter) error {
	rc := http.NewResponseController(w)
	if err := rc.SetWriteDeadline(time.Time{}); err != nil {
		return fmt.Errorf("lift the write deadline: %w", err)
	}
	if err := rc.SetReadDeadline(time.Time{}); err != nil {
		return fmt.Errorf("lift the read deadline: %w", err)
	}
	return nil
}
