// Package worker pulls jobs from the runners' consumers (one per served
// model and priority class, weighed by job.PullOrder), one per free slot,
// and carries each through generate, encode, upload, record and ack. The
// fate of every delivery (ack, NAK with delay, terminate, or leave alone) is
// decided in one place, finish.
package worker

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"cyberimage/services/gpu-runner/internal/imaging"
	"cyberimage/services/gpu-runner/internal/pipeline"
	"cyberimage/services/gpu-runner/internal/storage"
	"cyberimage/shared/backoff"
	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
	"cyberimage/shared/lifecycle"
)

// Generators finds the generator for a model on a device (nil: the CPU);
// release is called once the run is over.
type Generators interface {
	For(model string, gpu *int) (g pipeline.Generator, release func(), err error)
	// Discard drops g after a run on it failed, so the next job of the
	// model opens a fresh session.
	Discard(model string, gpu *int, g pipeline.Generator) bool
}

// Observer hears how deliveries end, for metrics. Its methods must not
// block.
type Observer interface {
	// Completed: a job completed here, with its stage timings and its
	// time from request to completion.
	Completed(model string, stages job.Stages, endToEnd time.Duration)
	// Failed: a job failed here, for good.
	Failed(model string)
	// Redelivered: a delivery arrived that JetStream had delivered before.
	Redelivered(model string)
}

type noObserver struct{}

func (noObserver) Completed(string, job.Stages, time.Duration) {}
func (noObserver) Failed(string)                               {}
func (noObserver) Redelivered(string)                          {}

// Params are what a Worker needs.
type Params struct {
	// Observer hears how deliveries end (nil: no one).
	Observer Observer
	Runner   string
	// Boot names this runner process; every delivery it claims carries it.
	Boot  string
	Slots int
	// SlotGPUs gives each slot\'s CUDA device (nil: the CPU); missing
	// entries run on the CPU.
	SlotGPUs []*int
	// Models are the models this runner serves; it pulls from their
	// consumers only.
	Models     []string
	NC         *nats.Conn
	JS         jetstream.JetStream
	Store      *jobstore.Store
	Images     *storage.Images
	Generators Generators
	Encoder    *imaging.Encoder
	Settings   bus.Settings
	Logger     *zap.Logger
	// FetchWait bounds each pull; shorter means a faster stop.
	FetchWait time.Duration
	// RetryBase is the first NAK delay of a transient failure.
	RetryBase time.Duration
	// Probe checks the services a job needs (S3). After a transient
	// failure a slot pulls no more work until Probe passes, so an outage
	// costs the job in hand one delivery instead of burning every queued
	// job's retries.
	Probe func(ctx context.Context) error
	// AbandonTimeout bounds how long an abandoned inference may take to
	// stop before the runner gives up on itself.
	AbandonTimeout time.Duration
	// AbandonCooloff: a slot whose job was taken away pulls nothing for
	// this long, so the redelivery goes to a healthy runner rather than
	// straight back to the one that stalled on it.
	AbandonCooloff time.Duration
	// Prefetch takes work already queued while an inference runs, so the
	// next inference starts without a fetch in between (see slot.prefetch).
	Prefetch bool
	// UploadPatience: when storing images fails, the worker keeps them and
	// retries once S3 answers again, for up to this long, before handing
	// the job back; an outage then costs no inference and no delivery.
	UploadPatience time.Duration
	// Overlap runs the encode, upload, record and ack of a job in the
	// background while the slot fetches and runs the next inference, so
	// the model does not wait on the network. At most one batch waits for
	// its upload; acks still come only after their upload finished.
	Overlap bool
	// MaxBatch jobs with the same batch key run as one model batch; the
	// slot waits up to BatchWindow for more after the first. 1 disables.
	MaxBatch    int
	BatchWindow time.Duration
	// StepEventInterval: a job's step events go out at most this often
	// (DefaultStepEventInterval when 0; negative: every step).
	StepEventInterval time.Duration
	// Drops counts work messages that do not decode.
	Drops *bus.Drops
	// Rand draws the order in which a free slot asks a model's priority
	// classes (job.PullOrder); rand.IntN when nil, tests inject their own.
	Rand func(n int) int
	// Clock gives the wall-clock times this runner writes into records
	// and events (time.Now when nil). Nobody else's decisions rest on
	// them; tests skew it to prove that.
	Clock func() time.Time
}

// Worker runs Slots jobs at a time.
type Worker struct {
	p   Params
	log *zap.Logger
	// queues are the consumers pulled from, one per served model and
	// priority class; classes[m] finds model m's queue of each class.
	queues   []queue
	classes  []map[job.Priority]int
	stopping chan struct{}
	// pullCtx ends with stopping, for the waits of the slots' pulls.
	pullCtx     context.Context
	stopPulling context.CancelFunc
	// workCtx is separate from fetching: stopping the fetch lets running
	// jobs finish; cancelling workCtx abandons them (they are NAKed).
	workCtx    context.Context
	cancelWork context.CancelFunc
	wg         sync.WaitGroup
	busy       atomic.Int32
	done       atomic.Int64
	failed     atomic.Int64

	gate      *gate
	consumers *consumerState
	mu        sync.Mutex
	active    map[string]*delivery // by job id
	fatal     chan error
	fatalOnce sync.Once
	// publishEvent is sendEvent, bound once: every delivery's progress
	// events go out through it without a closure per event.
	publishEvent func(bus.ProgressEvent)
}

// errHung: an abandoned inference ignored termination.
var errHung = errors.New("an abandoned inference did not stop")

// New makes a Worker; Start begins pulling.
func New(p Params) *Worker {
	if p.FetchWait == 0 {
		p.FetchWait = 2 * time.Second
	}
	if p.RetryBase == 0 {
		p.RetryBase = time.Second
	}
	if p.AbandonTimeout == 0 {
		p.AbandonTimeout = 30 * time.Second
	}
	p.MaxBatch = max(p.MaxBatch, 1)
	if p.StepEventInterval == 0 {
		p.StepEventInterval = DefaultStepEventInterval
	}
	if p.Clock == nil {
		p.Clock = time.Now
	}
	if p.Drops == nil {
		p.Drops = bus.NewDrops(p.Logger, time.Minute)
	}
	if p.Observer == nil {
		p.Observer = noObserver{}
	}
	if p.Rand == nil {
		p.Rand = rand.IntN
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &Worker{p: p, log: p.Logger.Named("worker"), stopping: make(chan struct{}), workCtx: ctx, cancelWork: cancel,
		active: map[string]*delivery{}, fatal: make(chan error, 1), gate: newGate(), consumers: &consumerState{log: p.Logger.Named("worker")}}
	w.pullCtx, w.stopPulling = context.WithCancel(context.Background())
	w.publishEvent = w.sendEvent
	return w
}

// Start binds to the consumers and starts one loop per slot.
func (w *Worker) Start(ctx context.Context) error {
	if len(w.p.Models) == 0 {
		return errors.New("worker serves no model")
	}
	if err := w.bindQueues(ctx); err != nil {
		return err
	}
	for slot := range w.p.Slots {
		w.wg.Add(1)
		go w.slotLoop(slot)
	}
	return nil
}

// Busy is the number of jobs this worker holds (running, waiting for
// upload, or prefetched).
func (w *Worker) Busy() int { return int(w.busy.Load()) }

// Stats returns the jobs completed and failed so far.
func (w *Worker) Stats() (completed, failed int64) { return w.done.Load(), w.failed.Load() }

// Hold stops the slots from pulling new work (jobs running go on) until
// Resume: the runner is quarantined.
func (w *Worker) Hold() { w.gate.hold(holdQuarantine) }

// Resume ends the quarantine; the slots pull again unless drained.
func (w *Worker) Resume() { w.gate.release(holdQuarantine) }

// Drain stops the slots from pulling new work until Undrain: jobs running
// finish, jobs taken ahead and not started go back to the queue, and the
// runner stays up. It reports whether the runner was not draining yet.
func (w *Worker) Drain() bool { return w.gate.hold(holdDrain) }

// Undrain lets a drained runner take work again (unless quarantined); it
// reports whether the runner was draining.
func (w *Worker) Undrain() bool { return w.gate.release(holdDrain) }

// Draining reports whether the runner is drained.
func (w *Worker) Draining() bool { return w.gate.heldFor(holdDrain) }

// HeldJobs lists the deliveries this worker holds and the step each has
// reached, for the heartbeat.
func (w *Worker) HeldJobs() []bus.HeldJob {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]bus.HeldJob, 0, len(w.active))
	for _, d := range w.active {
		r := d.reached.Load()
		out = append(out, bus.HeldJob{JobID: d.work.JobID, Delivery: d.id.Token(), Step: int(r >> 32), TotalSteps: int(uint32(r)),
			AckSubject: d.id.AckSubject})
	}
	return out
}

// Held reports whether the runner is quarantined (a drain is Draining).
func (w *Worker) Held() bool { return w.gate.heldFor(holdQuarantine) }

// stopGrace is how long, at most, running jobs get between being told to
// stop and the stop deadline: time to terminate their inference and NAK.
const stopGrace = 2 * time.Second

// Stop stops pulling and waits for running jobs; shortly before ctx's
// deadline the jobs still running are abandoned and NAKed so another runner
// takes them at once. If one does not stop by the deadline (an inference
// that ignores termination) Stop hands back every job still held and
// returns errHung: the process must exit, and nothing in it can be closed.
func (w *Worker) Stop(ctx context.Context) error {
	close(w.stopping)
	w.stopPulling()
	w.gate.release(holdQuarantine)
	finished := make(chan struct{})
	go func() { w.wg.Wait(); close(finished) }()
	// Abandon running jobs grace before the deadline; give up on them at
	// the deadline (grace after ctx ends when it has none).
	grace, abandon := stopGrace, ctx
	if deadline, ok := ctx.Deadline(); ok {
		grace = min(stopGrace, time.Until(deadline)/4)
		var cancel context.CancelFunc
		abandon, cancel = context.WithDeadline(ctx, deadline.Add(-grace))
		defer cancel()
	}
	select {
	case <-finished:
	case <-abandon.Done():
		w.log.Warn("stop deadline near; abandoning running jobs", zap.Int("busy", w.Busy()))
		w.cancelWork()
		select {
		case <-finished:
		case <-time.After(grace):
			w.handBackHeld()
			return errHung
		}
	}
	w.cancelWork()
	w.log.Info("worker stopped", zap.Int64("completed", w.done.Load()), zap.Int64("failed", w.failed.Load()))
	return nil
}

// handBackHeld NAKs every delivery still held, for a process about to exit
// with a wedged inference: another runner takes the jobs at once instead of
// after AckWait. Their records still name this runner's deliveries, which
// the next claim replaces.
func (w *Worker) handBackHeld() {
	w.mu.Lock()
	held := make([]*delivery, 0, len(w.active))
	for _, d := range w.active {
		held = append(held, d)
	}
	w.mu.Unlock()
	for _, d := range held {
		d.stopKeepAlive()
		d.log.Error("inference did not stop by the stop deadline; handing the job back before exiting")
		_ = d.msg.Nak()
	}
}

// waitHealthy blocks the slot until Probe passes or the worker stops.
func (w *Worker) waitHealthy(log *zap.Logger) {
	w.waitHealthyUntil(w.pullCtx, log, "pulling no work until it recovers")
}

// waitHealthyUntil probes with backoff until Probe passes or ctx ends, and
// reports whether it passed.
func (w *Worker) waitHealthyUntil(ctx context.Context, log *zap.Logger, meanwhile string) bool {
	if w.p.Probe == nil {
		return true
	}
	probe := lifecycle.Policy{Backoff: backoff.Policy{Base: 250 * time.Millisecond, Max: 5 * time.Second, Jitter: 0.2},
		TryTimeout: 5 * time.Second,
		OnRetry: func(attempt int, err error, _ time.Duration) {
			if attempt == 1 {
				log.Warn("dependency unhealthy; "+meanwhile, zap.Error(err))
			}
		}}
	tries := 0
	err := lifecycle.Retry(ctx, probe, func(ctx context.Context) error {
		tries++
		return w.p.Probe(ctx)
	})
	if err != nil {
		return false
	}
	if tries > 1 {
		log.Info("dependencies healthy again")
	}
	return true
}

func (w *Worker) pause(d time.Duration) {
	select {
	case <-w.stopping:
	case <-time.After(d):
	}
}
