package runner

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"cyberimage/shared/httpserve"
	"cyberimage/shared/metrics"
)

// serveHealth answers /metrics (Prometheus), /livez (the process runs: restart it when this
// fails) and /readyz (it takes work: connected to NATS, every consumer of
// its models answering, S3 reachable, its models loaded, not quarantined)
// on CYBERIMAGE_RUNNER_ADDR, for process managers and Kubernetes probes.
func (r *Runner) serveHealth(addr string, probe func(context.Context) error) error {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.Handle("GET /metrics", metrics.Handler(r.bus.Metrics))
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, req *http.Request) {
		ctx, cancel := context.WithTimeout(req.Context(), 2*time.Second)
		defer cancel()
		if err := r.ready(ctx, probe); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "not ready:", err)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	// HTTPS with CYBERIMAGE_HTTP_TLS_CERT and _KEY; every server timeout
	// set, so a slow client cannot hold a connection.
	ln, err := r.cfg.HTTPTLS.Listen(addr)
	if err != nil {
		return err
	}
	r.http = httpserve.NewHTTPServer(mux, httpserve.Timeouts{}, r.log)
	go func() {
		if err := r.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			r.log.Error("health listener", zap.Error(err))
		}
	}()
	r.log.Info("health endpoints", zap.String("addr", ln.Addr().String()), zap.Bool("tls", r.cfg.HTTPTLS.Enabled()))
	return nil
}

func (r *Runner) ready(ctx context.Context, probe func(context.Context) error) error {
	switch {
	case r.bus.NC.Status() != nats.CONNECTED:
		return fmt.Errorf("not connected to NATS (%s)", r.bus.NC.Status())
	case !r.modelsReady.Load():
		return errors.New("models not loaded yet")
	case r.worker.Held():
		return errors.New("quarantined: reloading its models")
	}
	if err := r.worker.ConsumersReady(); err != nil {
		return err
	}
	if err := probe(ctx); err != nil {
		return fmt.Errorf("S3: %w", err)
	}
	return nil
}
