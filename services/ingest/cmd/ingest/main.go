// Command ingest validates image-generation requests from the requests
// stream, records each as a job and queues it for the GPU runners.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"cyberimage/services/ingest/internal/config"
	"cyberimage/services/ingest/internal/httpapi"
	"cyberimage/services/ingest/internal/intake"
	"cyberimage/shared/bus"
	sharedconfig "cyberimage/shared/config"
	"cyberimage/shared/jobstore"
	"cyberimage/shared/logging"
	"cyberimage/shared/metrics"
	"cyberimage/shared/models"
	"cyberimage/shared/tracing"
)

func main() {
	cfg, err := config.Load(os.Args[1:], os.Stderr)
	if errors.Is(err, sharedconfig.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "ingest: invalid configuration:\n%v\n", err)
		os.Exit(2)
	}
	logger, err := logging.New("ingest", cfg.Log)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ingest: %v\n", err)
		os.Exit(2)
	}
	stopTracing := tracing.Start("ingest", cfg.Tracing, logger)
	defer stopTracing()
	if err := run(cfg, logger); err != nil {
		logger.Error("ingest stopped", zap.Error(err))
		stopTracing() // os.Exit skips the deferred flush
		_ = logger.Sync()
		os.Exit(bus.ExitCode(err))
	}
	_ = logger.Sync()
}

func run(cfg config.Config, logger *zap.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	catalog, err := models.Load(cfg.ModelsDir, cfg.DefaultModel)
	if err != nil {
		return err
	}
	nc, js, err := bus.Connect(cfg.NATS, "ingest", logger)
	if err != nil {
		return err
	}
	defer nc.Close()
	// The streams and consumers are provisioned beforehand (make run, or
	// the provision command); ingest only checks they match its settings.
	waiting := func(err error) { logger.Warn("waiting for NATS JetStream and provisioning", zap.Error(err)) }
	if err := bus.WaitProvisioned(ctx, js, cfg.Bus, waiting); err != nil {
		return err
	}
	store, err := jobstore.Open(ctx, js, jobstore.WithRetention(cfg.Retention))
	if err != nil {
		return err
	}
	stats := &intake.Stats{Drops: bus.NewDrops(logger.Named("bus"), time.Minute)}
	reg := metrics.New("ingest")
	reg.MustRegister(stats)
	metrics.NATS(reg, nc, stats.Drops)
	proc := intake.New(intake.Params{NC: nc, JS: js, Store: store, Models: catalog.WithMemoryBudget(models.JobMemoryBytes(cfg.JobMemoryMB)),
		Concurrency: cfg.Concurrency, Logger: logger, Stats: stats})
	if err := proc.Start(ctx); err != nil {
		return err
	}
	var api *httpapi.Server
	if cfg.HTTPAddr != "" {
		ready := func() error {
			switch {
			case nc.Status() != nats.CONNECTED:
				return fmt.Errorf("not connected to NATS (%s)", nc.Status())
			case !proc.Ready():
				return errors.New("not bound to the ingest consumer")
			}
			return nil
		}
		api = httpapi.New(cfg.HTTPAddr, metrics.Handler(reg), ready, logger, httpapi.WithTLS(cfg.HTTPTLS))
		if err := api.Start(); err != nil {
			proc.Stop()
			return err
		}
	}
	logger.Info("ingest ready", zap.String("nats", cfg.NATS.Redacted()), zap.Strings("models", catalog.Names()),
		zap.String("default_model", catalog.Default()), zap.String("http", cfg.HTTPAddr))
	<-ctx.Done()
	logger.Info("shutting down")
	proc.Stop()
	if api != nil {
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = api.Stop(shutdownCtx)
	}
	logger.Info("stopped", zap.Int64("accepted", stats.Accepted.Load()), zap.Int64("duplicates", stats.Duplicates.Load()),
		zap.Any("rejected", stats.Rejected()))
	return nil
}
