// Command ingest validates image-generation requests from the requests
// stream, records each as a job and queues it for the GPU runners.
package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"cyberimage/services/ingest/internal/config"
	"cyberimage/services/ingest/internal/httpapi"
	"cyberimage/services/ingest/internal/intake"
	"cyberimage/services/ingest/internal/tally"
	"cyberimage/shared/metrics"
	"cyberimage/shared/models"
	"cyberimage/shared/service"
)

func main() { service.Main("ingest", config.Load, run) }

// run starts ingest's components in order; they stop in reverse.
func run(ctx context.Context, cfg config.Config, log *zap.Logger, s *service.Stack) error {
	catalog, err := models.Load(cfg.ModelsDir, cfg.DefaultModel)
	if err != nil {
		return err
	}
	conn := service.NewBus(cfg.Settings, "ingest", "ingest", log)
	if err := s.Start(ctx, conn); err != nil {
		return err
	}
	stats := &intake.Stats{Drops: conn.Drops}
	conn.Metrics.MustRegister(stats)
	params := intake.Params{NC: conn.NC, JS: conn.JS, Store: conn.Store, Models: catalog.WithMemoryBudget(cfg.JobMemory.Bytes()),
		Callbacks: cfg.WebhookHosts, Concurrency: cfg.Concurrency, Logger: log, Stats: stats}
	components := []service.Component{
		service.Hooks{OnStop: func(context.Context) error {
			log.Info("stopped", zap.Int64("accepted", stats.Accepted.Load()), zap.Int64("duplicates", stats.Duplicates.Load()),
				zap.Any("rejected", stats.Rejected()))
			return nil
		}},
	}
	var quotas *tally.Tally
	if cfg.Quotas.Enabled() {
		// Started before the intake, which waits for its counts.
		quotas = tally.New(conn.Store.KV(), cfg.Quotas, log)
		conn.Metrics.MustRegister(quotas)
		params.Quotas = quotas
		components = append(components, quotas)
	}
	proc := intake.New(params)
	components = append(components, proc)
	if cfg.HTTPAddr != "" {
		ready := func() error {
			switch {
			case conn.NC.Status() != nats.CONNECTED:
				return fmt.Errorf("not connected to NATS (%s)", conn.NC.Status())
			case quotas != nil && !quotas.Ready():
				return errors.New("counting the clients' jobs for quotas")
			case !proc.Ready():
				return errors.New("not bound to the ingest consumer")
			}
			return nil
		}
		components = append(components, httpapi.New(cfg.HTTPAddr, metrics.Handler(conn.Metrics), ready, log, httpapi.WithTLS(cfg.HTTPTLS)))
	}
	if err := s.Start(ctx, components...); err != nil {
		return err
	}
	log.Info("ingest ready", zap.String("nats", cfg.NATS.Redacted()), zap.Strings("models", catalog.Names()),
		zap.String("default_model", catalog.Default()), zap.String("http", cfg.HTTPAddr), zap.String("quotas", quotaSetting(cfg)))
	return nil
}

// quotaSetting is the limits in force, for the start-up line.
func quotaSetting(cfg config.Config) string {
	if !cfg.Quotas.Enabled() {
		return "off"
	}
	return cfg.Quotas.String()
}
