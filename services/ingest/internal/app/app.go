// Package app is ingest's parts, each a component the command starts in
// order and stops in reverse: the connection, the quota tally (only when
// limits are set), the intake and its HTTP side (health and metrics).
// Stopping goes: HTTP, the intake (it finishes the requests in hand), the
// tally it counted with, the connection last.
package app

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

// App is one ingest process.
type App struct {
	cfg     config.Config
	log     *zap.Logger
	catalog *models.Catalog
	bus     *service.Bus

	// Made by Wire.
	stats  *intake.Stats
	quotas *tally.Tally // nil: no limits set
	proc   *intake.Processor
}

// New prepares ingest: its model catalog, which every request is checked
// against. Nothing connects until its components start.
func New(cfg config.Config, log *zap.Logger) (*App, error) {
	catalog, err := models.Load(cfg.ModelsDir, cfg.DefaultModel)
	if err != nil {
		return nil, err
	}
	return &App{cfg: cfg, log: log, catalog: catalog, bus: service.NewBus(cfg.Settings, "ingest", "ingest", log)}, nil
}

// Bus connects to NATS and checks the layout.
func (a *App) Bus() service.Component { return a.bus }

// Wire makes the parts that use the connection; Bus has started.
func (a *App) Wire() {
	a.stats = &intake.Stats{Drops: a.bus.Drops}
	a.bus.Metrics.MustRegister(a.stats)
	params := intake.Params{NC: a.bus.NC, JS: a.bus.JS, Store: a.bus.Store,
		Models: a.catalog.WithMemoryBudget(a.cfg.JobMemory.Bytes()), Callbacks: a.cfg.WebhookHosts,
		Concurrency: a.cfg.Concurrency, Logger: a.log, Stats: a.stats}
	if a.cfg.Quotas.Enabled() {
		a.quotas = tally.New(a.bus.Store.KV(), a.cfg.Quotas, a.log)
		a.bus.Metrics.MustRegister(a.quotas)
		// Set only here: a nil *Tally in the interface would not read as
		// "no limits".
		params.Quotas = a.quotas
	}
	a.proc = intake.New(params)
}

// Summary logs the run's counts when ingest stops; started before the
// intake, it stops after it, once the intake has finished its requests.
func (a *App) Summary() service.Component {
	return service.Hooks{OnStop: func(context.Context) error {
		a.log.Info("stopped", zap.Int64("accepted", a.stats.Accepted.Load()), zap.Int64("duplicates", a.stats.Duplicates.Load()),
			zap.Any("rejected", a.stats.Rejected()))
		return nil
	}}
}

// Quotas counts each client's jobs from the job records; the intake takes
// no request until it caught up, so it starts first. Nothing when no
// limits are set.
func (a *App) Quotas() service.Component {
	if a.quotas == nil {
		return service.Hooks{}
	}
	return a.quotas
}

// Intake takes requests from the requests stream.
func (a *App) Intake() service.Component { return a.proc }

// HTTP serves health and metrics; nothing when no address is set.
func (a *App) HTTP() service.Component {
	if a.cfg.HTTPAddr == "" {
		return service.Hooks{}
	}
	return httpapi.New(a.cfg.HTTPAddr, metrics.Handler(a.bus.Metrics), a.ready, a.log, httpapi.WithTLS(a.cfg.HTTPTLS))
}

// ready is /readyz: connected, counted and bound.
func (a *App) ready() error {
	switch {
	case a.bus.NC.Status() != nats.CONNECTED:
		return fmt.Errorf("not connected to NATS (%s)", a.bus.NC.Status())
	case a.quotas != nil && !a.quotas.Ready():
		return errors.New("counting the clients' jobs for quotas")
	case !a.proc.Ready():
		return errors.New("not bound to the ingest consumer")
	}
	return nil
}

// LogReady logs what ingest serves, once its components started.
func (a *App) LogReady() {
	a.log.Info("ingest ready", zap.String("nats", a.cfg.NATS.Redacted()), zap.Strings("models", a.catalog.Names()),
		zap.String("default_model", a.catalog.Default()), zap.String("http", a.cfg.HTTPAddr), zap.String("quotas", a.quotaSetting()))
}

// quotaSetting is the limits in force, for the start-up line.
func (a *App) quotaSetting() string {
	if !a.cfg.Quotas.Enabled() {
		return "off"
	}
	return a.cfg.Quotas.String()
}
