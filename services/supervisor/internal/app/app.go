// Package app wires the supervisor's components together and stops them in
// order: the HTTP server first, then the watchers it reads from.
package app

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"cyberimage/services/supervisor/internal/api"
	"cyberimage/services/supervisor/internal/config"
	"cyberimage/services/supervisor/internal/index"
	"cyberimage/services/supervisor/internal/tracker"
	"cyberimage/shared/bus"
	"cyberimage/shared/jobstore"
	"cyberimage/shared/objectstore"
)

// App is one supervisor process.
type App struct {
	log     *zap.Logger
	nc      *nats.Conn
	index   *index.Index
	tracker *tracker.Tracker
	api     *api.Server
}

// Start connects and serves. It waits for NATS rather than failing.
func Start(ctx context.Context, cfg config.Config, logger *zap.Logger) (*App, error) {
	nc, err := nats.Connect(cfg.NATS.URL, nats.Name("supervisor"), nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(true), nats.ReconnectWait(250*time.Millisecond))
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", cfg.NATS.URL, err)
	}
	a := &App{log: logger, nc: nc}
	if err := a.start(ctx, cfg); err != nil {
		a.Stop(context.Background())
		return nil, err
	}
	return a, nil
}

func (a *App) start(ctx context.Context, cfg config.Config) error {
	js, err := jetstream.New(a.nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	for {
		attemptCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := bus.Ensure(attemptCtx, js, cfg.Bus)
		cancel()
		if err == nil {
			break
		}
		a.log.Warn("waiting for NATS JetStream", zap.Error(err))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	store, err := jobstore.Open(ctx, js)
	if err != nil {
		return err
	}
	// The client is only used to presign URLs, which needs no round trip,
	// so S3 being down does not stop the supervisor.
	s3, err := objectstore.NewClient(cfg.S3)
	if err != nil {
		return err
	}
	a.index = index.New(store.KV(), a.log)
	if err := a.index.Start(ctx); err != nil {
		return fmt.Errorf("watch job records: %w", err)
	}
	a.tracker = tracker.New(a.nc, cfg.RunnerTimeout, a.log)
	if err := a.tracker.Start(); err != nil {
		return err
	}
	a.api = api.New(api.Params{Addr: cfg.Addr, JS: js, Store: store, Index: a.index, Tracker: a.tracker,
		S3: s3, Bucket: cfg.S3.Bucket, PresignTTL: cfg.PresignTTL, Logger: a.log})
	if err := a.api.Start(); err != nil {
		return err
	}
	select {
	case <-a.index.Ready():
	case <-ctx.Done():
		return ctx.Err()
	}
	a.log.Info("supervisor ready", zap.String("addr", cfg.Addr), zap.String("nats", cfg.NATS.URL))
	return nil
}

// Stop stops serving, then the watchers, then the connection.
func (a *App) Stop(ctx context.Context) {
	if a.api != nil {
		_ = a.api.Stop(ctx)
	}
	if a.tracker != nil {
		a.tracker.Stop()
	}
	if a.index != nil {
		a.index.Stop()
	}
	_ = a.nc.Drain()
}
