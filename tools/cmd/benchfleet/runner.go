package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
	"cyberimage/shared/natsauth"
)

// protocol is the runner protocol's timing, as the real runner's defaults.
type protocol struct {
	slots     int
	heartbeat time.Duration // 2 s
	fetchWait time.Duration // a free slot's pull waits this long, then pulls again
	ackWait   time.Duration // in-progress acks (with an ownership read) every third of it
	interval  time.Duration // step events at most this often per job
	prefetch  bool          // while a job runs, take one already queued
}

// fleetRunner is one emulated gpu-runner: its own NATS connection under
// credentials issued in its name, its consumer and record store, a
// heartbeat, its control subject, and slots that pull, claim, run the
// model (sleep through its steps), store, complete and ack, as the real
// runner does, without ONNX Runtime.
type fleetRunner struct {
	name, boot string
	p          protocol
	c          *counters
	nc         *nats.Conn
	// queues are the model's consumers, one per priority class, in
	// job.Priorities' order; classes finds a class's.
	queues  []jetstream.Consumer
	classes map[job.Priority]int
	rng     *rand.Rand // draws each pull's class order
	store   *jobstore.Store
	s3      *minio.Client // shared by the process's runners (nil: no PUT)
	bucket  string
	started time.Time

	mu         sync.Mutex
	rngMu      sync.Mutex
	held       map[string]*delivery // by delivery token
	lastReload string
}

// connect opens the runner's connection and binds its consumer and store.
func (r *fleetRunner) connect(ctx context.Context, url, credsDir string) error {
	nc, js, err := bus.Connect(bus.Conn{URL: url, CredsFile: natsauth.IdentityCredsPath(credsDir, natsauth.Runner, r.name)},
		"gpu-runner "+r.name, nil)
	if err != nil {
		return err
	}
	r.nc = nc
	r.classes = map[job.Priority]int{}
	for _, p := range job.Priorities() {
		cons, err := js.Consumer(ctx, bus.StreamJobs, bus.ClassConsumer(fleetModel, p))
		if err != nil {
			return fmt.Errorf("%s: consumer: %w", r.name, err)
		}
		r.classes[p] = len(r.queues)
		r.queues = append(r.queues, cons)
	}
	if r.store, err = jobstore.Open(ctx, js); err != nil {
		return fmt.Errorf("%s: records: %w", r.name, err)
	}
	if _, err := nc.Subscribe(bus.ControlSubject(r.name), r.order); err != nil {
		return fmt.Errorf("%s: orders: %w", r.name, err)
	}
	r.boot, r.started, r.held = nuid.Next(), time.Now().UTC(), map[string]*delivery{}
	r.rng = rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(len(r.name))))
	return nil
}

// run beats and works until ctx ends, then hands back what it holds.
func (r *fleetRunner) run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); r.beat(ctx) }()
	for range r.p.slots {
		wg.Add(1)
		go func() { defer wg.Done(); r.slot(ctx) }()
	}
	wg.Wait()
	r.nc.Close()
}

// beat publishes the heartbeat at once and then every interval, with the
// deliveries held and the step each has reached.
func (r *fleetRunner) beat(ctx context.Context) {
	host, _ := os.Hostname()
	t := time.NewTicker(r.p.heartbeat)
	defer t.Stop()
	for {
		r.mu.Lock()
		hb := bus.Heartbeat{Runner: r.name, Host: host, PID: os.Getpid(), Boot: r.boot, Models: []string{fleetModel},
			Slots: r.p.slots, Busy: len(r.held), Device: "cpu", Started: r.started, At: time.Now().UTC(),
			LastReload: r.lastReload, Jobs: make([]bus.HeldJob, 0, len(r.held))}
		for _, d := range r.held {
			hb.Jobs = append(hb.Jobs, d.heldJob())
		}
		r.mu.Unlock()
		if err := r.nc.Publish(bus.HeartbeatSubject(r.name), bus.EncodeHeartbeat(hb)); err != nil {
			r.c.failed(r.name+": heartbeat", err)
		}
		r.c.add(kindHeartbeat)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// order carries out the supervisor's orders: abandon or cancel a delivery
// held here (its work stops, it is never acked), or reload (noted in the
// next heartbeat; the emulated model has nothing to load).
func (r *fleetRunner) order(m *nats.Msg) {
	r.c.add(kindOrder)
	o, err := bus.DecodeControl(m.Data)
	if err != nil || o.Expired(time.Now()) {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch o.Action {
	case bus.ControlReload:
		r.lastReload = o.ID
	case bus.ControlAbandon, bus.ControlCancel:
		if d, ok := r.held[o.Delivery]; ok && d.work.JobID == o.JobID {
			d.cancel(errTakenAway)
		}
	}
}

func (r *fleetRunner) track(d *delivery) {
	r.mu.Lock()
	r.held[d.id.Token()] = d
	r.mu.Unlock()
	r.c.held.Add(1)
}

func (r *fleetRunner) untrack(d *delivery) {
	r.mu.Lock()
	delete(r.held, d.id.Token())
	r.mu.Unlock()
	r.c.held.Add(-1)
}
