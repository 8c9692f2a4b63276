// Package app wires the supervisor's components together. Every replica
// watches and serves; only the lease holder acts (watchdog, dead letters,
// reconciliation). Stop goes in order: HTTP first, then the actors, then
// the watchers they read from, the lease last so a successor takes over at
// once.
package app

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"cyberimage/services/supervisor/internal/acks"
	"cyberimage/services/supervisor/internal/api"
	"cyberimage/services/supervisor/internal/archive"
	"cyberimage/services/supervisor/internal/config"
	"cyberimage/services/supervisor/internal/deadletter"
	"cyberimage/services/supervisor/internal/index"
	"cyberimage/services/supervisor/internal/lease"
	"cyberimage/services/supervisor/internal/reconciler"
	"cyberimage/services/supervisor/internal/recoveries"
	"cyberimage/services/supervisor/internal/tracker"
	"cyberimage/services/supervisor/internal/watchdog"
	"cyberimage/shared/bus"
	"cyberimage/shared/jobstore"
	"cyberimage/shared/lifecycle"
	"cyberimage/shared/models"
	"cyberimage/shared/objectstore"
)

// App is one supervisor process.
type App struct {
	log *zap.Logger
	nc  *nats.Conn
	// stops run in reverse order of starting.
	stops []func()
	api   *api.Server
}

// Start connects and serves. It waits for NATS rather than failing.
func Start(ctx context.Context, cfg config.Config, logger *zap.Logger) (*App, error) {
	log := logger.With(zap.String("supervisor", cfg.ID))
	nc, js, err := bus.Connect(cfg.NATS, "supervisor "+cfg.ID, log)
	if err != nil {
		return nil, err
	}
	a := &App{log: log, nc: nc}
	if err := a.start(ctx, cfg, js); err != nil {
		a.Stop(context.Background())
		return nil, err
	}
	return a, nil
}

func (a *App) onStop(f func()) { a.stops = append(a.stops, f) }

func (a *App) start(ctx context.Context, cfg config.Config, js jetstream.JetStream) error {
	catalog, err := models.Load(cfg.ModelsDir, "")
	if err != nil {
		// Status and recovery do not need it; only /v1/models does.
		a.log.Warn("no model catalog; /v1/models lists only what runners announce", zap.Error(err))
		catalog = nil
	}
	// The watchdog and reconciler depend on the runners' AckWait and
	// MaxDeliver, so their consumers are checked too.
	var names []string
	if catalog != nil {
		names = catalog.Names()
	}
	waiting := func(err error) { a.log.Warn("waiting for NATS JetStream and provisioning", zap.Error(err)) }
	if err := bus.WaitProvisioned(ctx, js, cfg.Bus, waiting, names...); err != nil {
		return err
	}
	store, err := jobstore.Open(ctx, js, jobstore.WithRetention(cfg.Retention))
	if err != nil {
		return err
	}
	leases, err := js.KeyValue(ctx, bus.BucketLeases)
	if err != nil {
		return fmt.Errorf("lease bucket: %w", err)
	}
	histories, err := js.KeyValue(ctx, bus.BucketRunners)
	if err != nil {
		return fmt.Errorf("runner history bucket: %w", err)
	}
	state, err := js.KeyValue(ctx, bus.BucketSupervisor)
	if err != nil {
		return fmt.Errorf("supervisor state bucket: %w", err)
	}
	// The client presigns URLs (no round trip), archives ended records and
	// reads them back: S3 being down does not stop the supervisor, the
	// archive waits for it.
	s3, err := objectstore.NewClient(cfg.S3)
	if err != nil {
		return err
	}

	// Watchers: every replica keeps them, so any can serve status and take
	// over with a full picture.
	idx := index.New(store.KV(), a.log, index.WithSnapshots(state), index.WithSaveEvery(cfg.SnapshotInterval))
	if err := idx.Start(ctx); err != nil {
		return fmt.Errorf("watch job records: %w", err)
	}
	a.onStop(idx.Stop)
	// Whatever arrives on a subscribed subject and does not decode (or is
	// not believed) is dropped and counted here; /metrics shows it.
	drops := bus.NewDrops(a.log.Named("bus"), time.Minute)
	track := tracker.New(a.nc, cfg.RunnerTimeout, drops, a.log)
	if err := track.Start(); err != nil {
		return err
	}
	a.onStop(track.Stop)
	ackTrack := acks.New(a.nc, drops)
	if err := ackTrack.Start(); err != nil {
		return err
	}
	a.onStop(ackTrack.Stop)

	log := recoveries.NewLog(50)

	// Actors: only the leader acts. Their loops start when this replica
	// gains the lease and stop (cancelling any pass in progress) when it
	// loses it.
	runnerHistories := watchdog.KVHistories{KV: histories}
	recoverer := &watchdog.Recoverer{Store: store, NC: a.nc, NakBase: cfg.NakDelay, MaxDeliver: cfg.Bus.MaxDeliver, Now: time.Now}
	dog := watchdog.New(watchdog.Params{
		Jobs: idx, Acks: ackTrack, Progress: track, Pulses: track, Log: log,
		Histories: runnerHistories, Runners: track, Liveness: track, LostAfter: cfg.RunnerLostAfter,
		Actions:    recoverer,
		MaxStalled: cfg.MaxStalledTime, MaxSilent: cfg.MaxSilentTime, CheckInterval: cfg.CheckInterval,
		RecoveryCooldown: cfg.RecoveryCooldown, AckWait: cfg.Bus.AckWait, Logger: a.log,
	})
	dead := deadletter.New(deadletter.Params{JS: js, Store: store, Log: log, Acks: ackTrack, AckWait: cfg.Bus.AckWait,
		Drops: drops, Logger: a.log})
	rec := reconciler.New(reconciler.Params{
		DeadLetters: dead, MaxDeliver: cfg.Bus.MaxDeliver,
		JS: js, Store: store, Jobs: idx, Acks: ackTrack, Log: log,
		Interval: cfg.ReconcileInterval, Grace: 2 * cfg.Bus.AckWait, AckWait: cfg.Bus.AckWait, Logger: a.log,
	})
	leaderLoops := lifecycle.Group{
		lifecycle.NewLoop(cfg.CheckInterval, dog.Pass),
		// A dead or restarted runner's work goes back within seconds,
		// not when AckWait runs out.
		lifecycle.NewLoop(watchdog.LostPassInterval(cfg.RunnerLostAfter), func(ctx context.Context) { dog.LostPass(ctx) }),
		lifecycle.NewLoop(0, dead.Pass),
		lifecycle.NewLoop(cfg.ReconcileInterval, rec.Pass),
		// Saves the index's view every CYBERIMAGE_SNAPSHOT_INTERVAL, so a
		// restart follows on from it instead of reading every record; the
		// pass itself waits between saves.
		lifecycle.NewLoop(0, idx.Persist),
	}
	if cfg.Archive {
		// Archives what the index sees end until the lease is lost; its
		// pass begins at once and pauses on its own after a failure.
		arch := archive.New(archive.Params{Ended: idx, Records: store.KV(), State: state, S3: s3, Bucket: cfg.S3.Bucket, Logger: a.log})
		leaderLoops = append(leaderLoops, lifecycle.NewLoop(0, arch.Pass))
	}
	a.onStop(leaderLoops.Stop)
	lead := lease.New(leases, cfg.ID, bus.LeaseTTL, a.log, leaderLoops.Follow)

	ready := func() error {
		if applied, target, caughtUp := idx.CatchUp(); !caughtUp {
			return fmt.Errorf("catching up with the job records: %d of %d revisions applied", applied, target)
		}
		if lead.IsLeader() {
			return dead.Bound() // the leader must hear about jobs out of deliveries
		}
		return nil
	}
	a.api = api.New(api.Params{Addr: cfg.Addr, NC: a.nc, Drops: drops, Ready: ready, JS: js, Store: store, Index: idx, Tracker: track,
		AdminToken: cfg.AdminToken, ReadToken: cfg.ReadToken, SubmitToken: cfg.SubmitToken, SubmitRate: cfg.SubmitRate, TLS: cfg.HTTPTLS,
		S3: s3, Bucket: cfg.S3.Bucket, PresignTTL: cfg.PresignTTL, Recoveries: log, Catalog: catalog, Unhealthy: dog.Unhealthy,
		Leader: func() (bool, string) { return lead.IsLeader(), lead.Holder() }, Logger: a.log,
		Reload: watchdog.OperatorReload(runnerHistories, recoverer)})
	if err := a.api.Start(); err != nil {
		return err
	}
	// The API serves (and /readyz says how far the catch-up is) while the
	// index reads a backlog; only a replica whose view is whole may lead.
	select {
	case <-idx.Ready():
	case <-ctx.Done():
		return ctx.Err()
	}
	lead.Start()
	a.onStop(lead.Stop)
	// Stops run in reverse: this one first, while the lease is held.
	a.onStop(func() {
		if lead.IsLeader() {
			idx.SaveNow(context.Background())
		}
	})
	a.log.Info("supervisor ready", zap.String("addr", cfg.Addr), zap.String("nats", cfg.NATS.Redacted()),
		zap.Duration("max_stalled_time", cfg.MaxStalledTime), zap.Duration("max_silent_time", cfg.MaxSilentTime),
		zap.Duration("check_interval", cfg.CheckInterval), zap.Duration("recovery_cooldown", cfg.RecoveryCooldown))
	return nil
}

// Stop stops serving, then everything else in reverse order of start.
func (a *App) Stop(ctx context.Context) {
	if a.api != nil {
		_ = a.api.Stop(ctx)
	}
	for i := len(a.stops) - 1; i >= 0; i-- {
		a.stops[i]()
	}
	_ = a.nc.Drain()
}
