package app

import (
	"context"
	"fmt"
	"time"

	"cyberimage/services/supervisor/internal/acks"
	"cyberimage/services/supervisor/internal/api"
	"cyberimage/services/supervisor/internal/archive"
	"cyberimage/services/supervisor/internal/deadletter"
	"cyberimage/services/supervisor/internal/drain"
	"cyberimage/services/supervisor/internal/expiry"
	"cyberimage/services/supervisor/internal/index"
	"cyberimage/services/supervisor/internal/leaderpass"
	"cyberimage/services/supervisor/internal/reconciler"
	"cyberimage/services/supervisor/internal/recoveries"
	"cyberimage/services/supervisor/internal/stats"
	"cyberimage/services/supervisor/internal/tracker"
	"cyberimage/services/supervisor/internal/watchdog"
	"cyberimage/shared/lifecycle"
	"cyberimage/shared/service"
)

// watchers are what every replica keeps, so any can serve status and
// take over with a full picture.
func (a *App) watchers() {
	a.idx = index.New(a.bus.Store.KV(), a.log, index.WithSnapshots(a.buckets.state), index.WithSaveEvery(a.cfg.SnapshotInterval))
	// Whatever arrives on a subscribed subject and does not decode (or is
	// not believed) is dropped and counted in the bus's Drops; /metrics
	// shows it.
	a.track = tracker.New(a.bus.NC, a.cfg.RunnerTimeout, a.bus.Drops, a.log)
	a.acks = acks.New(a.bus.NC, a.bus.Drops)
	a.recoveries = recoveries.NewLog(50)
	// Operators' drains, kept in KV: every replica reads and changes them.
	a.drains = drain.New(drain.Params{Set: drain.Set{KV: a.buckets.state}, Runners: a.track, NC: a.bus.NC,
		Deps: leaderpass.Deps{Logger: a.log}})
	// The console's charts: counted from what the index and tracker see.
	a.stats = stats.New(nil, stats.Limits{})
	a.sampler = stats.NewSampler(stats.Params{Recorder: a.stats, Ended: a.idx, Queue: stats.ConsumerDepth(a.bus.JS),
		Runners: a.runnerSamples, Logger: a.log})
}

// actors are the leader's loops: they start when this replica gains the
// lease and stop (cancelling any pass in progress) when it loses it.
func (a *App) actors() {
	cfg, store := a.cfg, a.bus.Store
	pass := leaderpass.Deps{Logger: a.log}
	a.recoverer = &watchdog.Recoverer{Store: store, NC: a.bus.NC, NakBase: cfg.NakDelay, MaxDeliver: cfg.Bus.MaxDeliver, Now: time.Now}
	a.dog = watchdog.New(watchdog.Params{
		Jobs: a.idx, Acks: a.acks, Progress: a.track, Pulses: a.track, Log: a.recoveries,
		Histories: watchdog.KVHistories{KV: a.buckets.histories}, Runners: a.track, Liveness: a.track, LostAfter: cfg.RunnerLostAfter,
		Actions: a.recoverer, MaxStalled: cfg.MaxStalledTime, MaxSilent: cfg.MaxSilentTime,
		RecoveryCooldown: cfg.RecoveryCooldown, AckWait: cfg.Bus.AckWait, Deps: pass,
	})
	a.dead = deadletter.New(deadletter.Params{JS: a.bus.JS, Store: store, Log: a.recoveries, Acks: a.acks, AckWait: cfg.Bus.AckWait,
		Drops: a.bus.Drops, Logger: a.log})
	rec := reconciler.New(reconciler.Params{
		DeadLetters: a.dead, MaxDeliver: cfg.Bus.MaxDeliver,
		JS: a.bus.JS, Store: store, Jobs: a.idx, Acks: a.acks, Log: a.recoveries,
		Grace: 2 * cfg.Bus.AckWait, AckWait: cfg.Bus.AckWait, Deps: pass,
	})
	a.leader = lifecycle.Group{
		lifecycle.NewLoop(cfg.CheckInterval, a.dog.Pass),
		// A dead or restarted runner's work goes back within seconds,
		// not when AckWait runs out.
		lifecycle.NewLoop(watchdog.LostPassInterval(cfg.RunnerLostAfter), func(ctx context.Context) { a.dog.LostPass(ctx) }),
		lifecycle.NewLoop(0, a.dead.Run),
		lifecycle.NewLoop(cfg.ReconcileInterval, rec.Pass),
		// Drained runners that do not say so (an order lost, a runner
		// restarted) are ordered again, and undrained ones likewise.
		lifecycle.NewLoop(drain.PassInterval, func(ctx context.Context) { a.drains.Pass(ctx) }),
		// Queued jobs past their deadline end unstarted.
		lifecycle.NewLoop(expiry.Interval, expiry.New(expiry.Params{JS: a.bus.JS, Store: store, Jobs: a.idx, Deps: pass}).Pass),
		// Saves the index's view every CYBERIMAGE_SNAPSHOT_INTERVAL, so a
		// restart follows on from it instead of reading every record.
		a.idx.Saver(),
	}
	if cfg.Archive {
		// Archives what the index sees end until the lease is lost; it
		// begins at once and retries on its own after a failure.
		a.leader = append(a.leader, archive.New(archive.Params{Ended: a.idx, Records: store.KV(), State: a.buckets.state, S3: a.s3,
			Bucket: cfg.S3.Bucket, FlushInterval: cfg.ArchiveFlushInterval, SegmentRecords: cfg.ArchiveSegmentRecords,
			IndexInterval: cfg.ArchiveIndexInterval, Retention: cfg.Retention, JobJSON: cfg.ArchiveJobJSON, Logger: a.log}))
	}
}

func (a *App) newAPI() *api.Server {
	cfg := a.cfg
	ready := func() error {
		if applied, target, caughtUp := a.idx.CatchUp(); !caughtUp {
			return fmt.Errorf("catching up with the job records: %d of %d revisions applied", applied, target)
		}
		if a.lead.IsLeader() {
			return a.dead.Bound() // the leader must hear about jobs out of deliveries
		}
		return nil
	}
	return api.New(api.Params{Addr: cfg.Addr, NC: a.bus.NC, Drops: a.bus.Drops, Ready: ready, JS: a.bus.JS, Store: a.bus.Store, Index: a.idx,
		Tracker: a.track, AdminToken: cfg.AdminToken, ReadToken: cfg.ReadToken, SubmitToken: cfg.SubmitToken, SubmitRate: cfg.SubmitRate,
		ClientTokens: cfg.Clients.Tokens, Quotas: cfg.Clients.Quotas,
		TLS: cfg.HTTPTLS, S3: a.s3, Bucket: cfg.S3.Bucket, PresignTTL: cfg.PresignTTL, Recoveries: a.recoveries, Catalog: a.catalog,
		Unhealthy: a.dog.Unhealthy, Leader: func() (bool, string) { return a.lead.IsLeader(), a.lead.Holder() }, Logger: a.log,
		Reload: watchdog.OperatorReload(watchdog.KVHistories{KV: a.buckets.histories}, a.track, a.recoverer), Drains: a.drains,
		Stats: a.stats, RunnerHistory: watchdog.KVHistories{KV: a.buckets.histories}.Get,
		Callback: a.hooks.book.View, Collectors: a.hooks.collectors()})
}

// runnerSamples are the live runners' load, for the stats.
func (a *App) runnerSamples() []stats.RunnerSample {
	var out []stats.RunnerSample
	for _, r := range a.track.Runners() {
		if r.Health == "healthy" {
			out = append(out, stats.RunnerSample{Runner: r.Runner, Busy: r.Busy, Slots: r.Slots, GPUs: r.GPUs})
		}
	}
	return out
}

// Stats counts the figures the console charts.
func (a *App) Stats() service.Component { return a.sampler }

// The supervisor's components follow. Main starts them in order and they
// stop in reverse, senders before receivers (the package comment gives
// the order).

// Index follows the job records.
func (a *App) Index() service.Component { return a.idx }

// Tracker follows heartbeats and progress.
func (a *App) Tracker() service.Component { return a.track }

// Acks follows every ack of the jobs stream.
func (a *App) Acks() service.Component { return a.acks }

// Actors stops the leader's components; the lease starts them.
func (a *App) Actors() service.Component {
	return service.Hooks{OnStop: a.leader.Stop}
}

// API serves status, lookups, submissions and metrics.
func (a *App) API() service.Component { return a.api }

// CaughtUp waits until the index has caught up: the API serves (and
// /readyz says how far the catch-up is) while the index reads a backlog,
// and only a replica whose view is whole may lead.
func (a *App) CaughtUp() service.Component {
	return service.Hooks{OnStart: func(ctx context.Context) error {
		select {
		case <-a.idx.Ready():
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}}
}

// Lease campaigns for the lead, starting and stopping the leader's
// components as it gains and loses it.
func (a *App) Lease() service.Component { return a.lead }

// FinalSnapshot saves the index's view on stop, while the lease is held:
// it stops before the lease.
func (a *App) FinalSnapshot() service.Component {
	return service.Hooks{OnStop: func(context.Context) error {
		if a.lead.IsLeader() {
			a.idx.SaveNow(context.Background())
		}
		return nil
	}}
}
