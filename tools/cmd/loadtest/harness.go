package main

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"cyberimage/shared/bus"
	"cyberimage/shared/jobstore"
)

// harness is one run's connections and observers, shared by the tests.
type harness struct {
	opts   options
	rep    *report
	run    string
	nc     *nats.Conn
	js     jetstream.JetStream
	store  *jobstore.Store
	ledger *ledger
	events *progressLog
	sup    *supervisorClient
}

// connect reaches NATS, opens the job bucket and starts watching records and
// progress events, all before the first request is published.
func connect(ctx context.Context, opts options, rep *report) (*harness, error) {
	h := &harness{opts: opts, rep: rep, run: newRunID(), sup: newSupervisorClient(opts.supervisor)}
	natsOpts := []nats.Option{nats.Name("loadtest " + h.run), nats.Timeout(5 * time.Second),
		nats.MaxReconnects(-1), nats.ReconnectWait(250 * time.Millisecond)}
	if opts.natsCreds != "" {
		creds, err := bus.CredentialOptions(opts.natsCreds)
		if err != nil {
			return nil, err
		}
		natsOpts = append(natsOpts, creds...)
		if id, ok, _ := bus.IdentityOf(opts.natsCreds); ok && id.Role == "admin" {
			// It inspects streams as admin but submits as a client would:
			// ingest answers only clients' inboxes, and admin may read any.
			natsOpts = append(natsOpts, nats.CustomInboxPrefix(bus.InboxPrefix("client", "loadtest")))
		}
	}
	nc, err := nats.Connect(opts.natsURL, natsOpts...)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", opts.natsURL, err)
	}
	h.nc = nc
	if h.js, err = jetstream.New(nc); err != nil {
		h.close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	openCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if h.store, err = jobstore.Open(openCtx, h.js); err != nil {
		h.close()
		return nil, fmt.Errorf("%w (is the stack running?)", err)
	}
	if h.ledger, err = startLedger(h.store.KV(), h.run+"-"); err != nil {
		h.close()
		return nil, err
	}
	if h.events, err = subscribeProgress(nc); err != nil {
		h.close()
		return nil, err
	}
	// The watch and the subscription must be in place on the server before
	// anything is published, or early writes and events go unseen.
	if err := nc.FlushTimeout(5 * time.Second); err != nil {
		h.close()
		return nil, fmt.Errorf("flush: %w", err)
	}
	return h, nil
}

func (h *harness) close() {
	if h.events != nil {
		h.events.stop()
	}
	if h.ledger != nil {
		h.ledger.stop()
	}
	if h.nc != nil {
		h.nc.Close()
	}
}

// runTest runs one named test, each with its own deadline for its jobs.
func (h *harness) runTest(ctx context.Context, name string) {
	switch name {
	case "load":
		h.load(ctx)
	case "stall":
		h.stall(ctx)
	case "chaos":
		h.chaos(ctx)
	}
}

// publish sends one request as `nats pub` would: core NATS, no reply.
func (h *harness) publish(r request) error {
	if err := h.nc.Publish(bus.SubjectRequests, r.payload()); err != nil {
		return fmt.Errorf("publish %s: %w", r.RequestID, err)
	}
	return nil
}

// jobsInStream is the number of messages left in the work queue.
func (h *harness) jobsInStream(ctx context.Context) (uint64, error) {
	st, err := h.js.Stream(ctx, bus.StreamJobs)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", bus.StreamJobs, err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", bus.StreamJobs, err)
	}
	return info.State.Msgs, nil
}

// eventually retries cond every 200ms until it holds or limit passes (cond
// runs at least once, even with a zero limit); it returns the last detail
// cond gave. Each try gets its own short deadline.
func eventually(ctx context.Context, limit time.Duration, cond func(context.Context) (bool, string)) (bool, string) {
	deadline := time.Now().Add(limit)
	for {
		tryCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		ok, detail := cond(tryCtx)
		cancel()
		if ok || !time.Now().Before(deadline) {
			return ok, detail
		}
		select {
		case <-ctx.Done():
			return false, detail
		case <-time.After(200 * time.Millisecond):
		}
	}
}
