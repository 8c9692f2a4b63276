package runner

import (
	"context"
	"os"
	"time"

	"go.uber.org/zap"

	"cyberimage/services/gpu-runner/internal/heartbeat"
	"cyberimage/services/gpu-runner/internal/imaging"
	"cyberimage/services/gpu-runner/internal/storage"
	"cyberimage/services/gpu-runner/internal/worker"
	"cyberimage/shared/backoff"
	"cyberimage/shared/bus"
	"cyberimage/shared/lifecycle"
	"cyberimage/shared/objectstore"
	"cyberimage/shared/service"
)

// The runner's components, in the order main starts them; they stop in
// reverse: stop taking work, finish or hand back running jobs while the
// heartbeat still says the runner is alive, then go quiet.

// Devices closes the model registry and NVML when the runner stops; New
// opened them. A wedged inference leaves them open: closing a model waits
// for its runs.
func (r *Runner) Devices() service.Component {
	return service.Hooks{OnStop: func(context.Context) error {
		if r.wedged.Load() {
			return nil
		}
		if err := r.registry.Close(); err != nil {
			r.log.Warn("close models", zap.Error(err))
		}
		r.nvml.Close()
		return nil
	}}
}

// Bus connects to NATS and checks the layout, the runners' consumers of
// the served models included.
func (r *Runner) Bus() service.Component { return r.bus }

// Storage connects to S3, waiting for it rather than failing: services
// start in any order.
func (r *Runner) Storage() service.Component {
	return service.Hooks{OnStart: func(ctx context.Context) error {
		wait := lifecycle.Policy{Backoff: backoff.Fixed(time.Second), TryTimeout: 5 * time.Second,
			OnRetry: func(_ int, err error, _ time.Duration) {
				r.log.Warn("waiting for S3 at "+r.cfg.S3.Endpoint, zap.Error(err))
			}}
		return lifecycle.Retry(ctx, wait, func(ctx context.Context) error {
			client, err := objectstore.Connect(ctx, r.cfg.S3)
			if err != nil {
				return err
			}
			r.images = storage.NewImages(client, r.cfg.S3.Bucket)
			r.probe = func(ctx context.Context) error { return objectstore.Probe(ctx, client, r.cfg.S3.Bucket) }
			return nil
		})
	}}
}

// Wire makes the worker and the heartbeat on the connections Bus and
// Storage opened; it starts nothing.
func (r *Runner) Wire() {
	conn := r.bus
	r.worker = worker.New(worker.Params{Observer: newJobMetrics(conn.Metrics, r.served),
		Runner: r.cfg.RunnerID, Boot: r.boot, Models: r.served, Slots: len(r.slots), SlotGPUs: r.slotGPUs, NC: conn.NC, JS: conn.JS,
		Store: conn.Store, Images: r.images, Generators: r.registry, Encoder: imaging.NewEncoder(pngLevel(r.cfg.PNGLevel)),
		Settings: r.cfg.Bus, Logger: r.log, Probe: r.probe, AbandonTimeout: r.cfg.AbandonTimeout, AbandonCooloff: r.cfg.AbandonCooloff,
		Overlap: r.cfg.Overlap, Prefetch: r.cfg.Prefetch, UploadPatience: r.cfg.UploadPatience, MaxBatch: r.cfg.MaxBatch,
		BatchWindow: r.cfg.BatchWindow, Clock: r.clock, Drops: conn.Drops,
	})
	r.beat = heartbeat.New(heartbeat.Params{NC: conn.NC, Interval: r.cfg.Heartbeat, Logger: r.log, Clock: r.clock, Snapshot: r.announcement()})
	conn.Metrics.MustRegister(stateCollector{runner: r.cfg.RunnerID, state: r.announcement()})
}

// announcement is what each heartbeat says.
func (r *Runner) announcement() func() bus.Heartbeat {
	host, _ := os.Hostname()
	started := r.clock().UTC()
	return func() bus.Heartbeat {
		gpus := r.nvml.GPUs()
		for i := range gpus {
			for _, s := range r.slots {
				if s.GPU != nil && *s.GPU == gpus[i].Index {
					gpus[i].InUse = true
				}
			}
		}
		return bus.Heartbeat{Runner: r.cfg.RunnerID, Host: host, PID: os.Getpid(), Boot: r.boot, Models: r.served,
			Slots: len(r.slots), Busy: r.worker.Busy(), Device: r.device, GPUs: gpus, Started: started,
			Quarantined: r.worker.Held(), Draining: r.worker.Draining(), LastReload: r.lastReload.Load().(string), Dropped: r.bus.Drops.Total(),
			Reconnects: r.bus.NC.Stats().Reconnects, Jobs: r.worker.HeldJobs()}
	}
}

// Orders takes the supervisor's orders. It starts before the worker, so
// the runner hears an abandon for any job it may be given, and waits on
// stop for a reload in progress (not for one held by a wedged inference).
func (r *Runner) Orders() service.Component {
	return service.Hooks{
		OnStart: func(context.Context) error { return r.listenForOrders() },
		OnStop: func(context.Context) error {
			r.refuseOrders()
			if !r.wedged.Load() {
				r.orders.Wait()
			}
			return nil
		},
	}
}

// refuseOrders ends a reload's retries and refuses new orders.
func (r *Runner) refuseOrders() {
	r.ordersMu.Lock()
	defer r.ordersMu.Unlock()
	r.refuse()
}

// Heartbeat announces the runner at once, then every interval. It starts
// before the worker so that it stops after it: the supervisor sees the
// runner alive while its jobs finish.
func (r *Runner) Heartbeat() service.Component { return r.beat }

// Worker pulls and runs jobs. Its stop lets running jobs finish until
// shortly before the deadline, then hands them back; an error means an
// inference did not stop by the deadline, and the process must exit.
func (r *Runner) Worker() service.Component {
	return service.Hooks{
		OnStart: r.worker.Start,
		OnStop: func(ctx context.Context) error {
			r.refuseOrders()
			if err := r.worker.Stop(ctx); err != nil {
				r.wedged.Store(true)
				return err
			}
			return nil
		},
	}
}

// Warmup loads every served model now rather than on the first job, so
// readiness means the runner can run its models.
func (r *Runner) Warmup() service.Component {
	return service.Hooks{OnStart: func(context.Context) error {
		go func() {
			if err := r.warm(); err != nil {
				r.log.Error("loading the served models failed; not ready", zap.Error(err))
				return
			}
			r.modelsReady.Store(true)
		}()
		return nil
	}}
}

// Health serves /metrics, /livez and /readyz when CYBERIMAGE_RUNNER_ADDR
// is set.
func (r *Runner) Health() service.Component {
	return service.Hooks{
		OnStart: func(context.Context) error {
			if r.cfg.HTTPAddr == "" {
				return nil
			}
			return r.serveHealth(r.cfg.HTTPAddr, r.probe)
		},
		OnStop: func(context.Context) error {
			if r.http != nil {
				shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				_ = r.http.Shutdown(shutdown)
			}
			return nil
		},
	}
}
