// Package app is the supervisor's parts, each a component the command
// starts in order and stops in reverse. Every replica watches and serves;
// only the lease holder acts (watchdog, dead letters, reconciliation).
// Stopping goes: the final snapshot while the lease is held, the lease
// (a successor takes over at once), HTTP, the actors, then the watchers
// they read from, the connection last.
package app

import (
	"context"
	"fmt"

	"github.com/minio/minio-go/v7"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"cyberimage/services/supervisor/internal/acks"
	"cyberimage/services/supervisor/internal/api"
	"cyberimage/services/supervisor/internal/config"
	"cyberimage/services/supervisor/internal/deadletter"
	"cyberimage/services/supervisor/internal/drain"
	"cyberimage/services/supervisor/internal/index"
	"cyberimage/services/supervisor/internal/lease"
	"cyberimage/services/supervisor/internal/recoveries"
	"cyberimage/services/supervisor/internal/stats"
	"cyberimage/services/supervisor/internal/tracker"
	"cyberimage/services/supervisor/internal/watchdog"
	"cyberimage/shared/bus"
	"cyberimage/shared/lifecycle"
	"cyberimage/shared/models"
	"cyberimage/shared/objectstore"
	"cyberimage/shared/service"
)

// App is one supervisor process.
type App struct {
	cfg     config.Config
	log     *zap.Logger
	bus     *service.Bus
	catalog *models.Catalog
	s3      *minio.Client

	// Made by Wire.
	buckets    buckets
	idx        *index.Index
	track      *tracker.Tracker
	acks       *acks.Tracker
	recoveries *recoveries.Log
	stats      *stats.Recorder
	sampler    *stats.Sampler
	recoverer  *watchdog.Recoverer
	dog        *watchdog.Watchdog
	dead       *deadletter.Handler
	drains     *drain.Drains
	leader     lifecycle.Group
	hooks      hooks
	lead       *lease.Lease
	api        *api.Server
}

// buckets are the supervisor's key-value buckets besides the records.
type buckets struct {
	leases, histories, state jetstream.KeyValue
}

// New prepares a supervisor: its model catalog (optional) and its S3
// client. Nothing connects until its components start.
func New(cfg config.Config, logger *zap.Logger) (*App, error) {
	log := logger.With(zap.String("supervisor", cfg.ID))
	catalog, err := models.Load(cfg.ModelsDir, "")
	var names []string
	if err != nil {
		// Status and recovery do not need it; only /v1/models does.
		log.Warn("no model catalog; /v1/models lists only what runners announce", zap.Error(err))
		catalog = nil
	} else {
		names = catalog.Names()
	}
	// The client presigns URLs (no round trip), archives ended records and
	// reads them back: S3 being down does not stop the supervisor, the
	// archive waits for it.
	s3, err := objectstore.NewClient(cfg.S3)
	if err != nil {
		return nil, err
	}
	// The watchdog and reconciler depend on the runners' AckWait and
	// MaxDeliver, so their consumers are checked too.
	conn := service.NewBus(cfg.Settings, "supervisor", "supervisor "+cfg.ID, log, names...)
	return &App{cfg: cfg, log: log, bus: conn, catalog: catalog, s3: s3}, nil
}

// Bus connects to NATS and checks the layout.
func (a *App) Bus() service.Component { return a.bus }

// Wire opens the buckets and makes the watchers, the actors, the lease and
// the API on the connection Bus opened; it starts nothing.
func (a *App) Wire(ctx context.Context) error {
	var err error
	if a.buckets, err = openBuckets(ctx, a.bus.JS); err != nil {
		return err
	}
	a.watchers()
	a.actors()
	if err := a.webhooks(ctx); err != nil {
		return err
	}
	a.lead = lease.New(a.buckets.leases, a.cfg.ID, bus.LeaseTTL, a.log, a.followLead)
	a.api = a.newAPI()
	return nil
}

// followLead starts the leader's components when this replica gains the
// lease and stops them (cancelling any pass in progress) when it loses it.
func (a *App) followLead(leading bool) {
	if err := a.leader.Follow(leading); err != nil {
		a.log.Error("the leader's components did not follow the lease", zap.Bool("leading", leading), zap.Error(err))
	}
}

func openBuckets(ctx context.Context, js jetstream.JetStream) (buckets, error) {
	var b buckets
	var err error
	if b.leases, err = js.KeyValue(ctx, bus.BucketLeases); err != nil {
		return b, fmt.Errorf("lease bucket: %w", err)
	}
	if b.histories, err = js.KeyValue(ctx, bus.BucketRunners); err != nil {
		return b, fmt.Errorf("runner history bucket: %w", err)
	}
	if b.state, err = js.KeyValue(ctx, bus.BucketSupervisor); err != nil {
		return b, fmt.Errorf("supervisor state bucket: %w", err)
	}
	return b, nil
}

// LogReady says the supervisor is up, with its rules' settings.
func (a *App) LogReady() {
	cfg := a.cfg
	a.log.Info("supervisor ready", zap.String("addr", cfg.Addr), zap.String("nats", cfg.NATS.Redacted()),
		zap.Duration("max_stalled_time", cfg.MaxStalledTime), zap.Duration("max_silent_time", cfg.MaxSilentTime),
		zap.Duration("check_interval", cfg.CheckInterval), zap.Duration("recovery_cooldown", cfg.RecoveryCooldown))
}
