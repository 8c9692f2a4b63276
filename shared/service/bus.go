package service

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"cyberimage/shared/bus"
	"cyberimage/shared/jobstore"
	"cyberimage/shared/metrics"
)

// Bus is a service's connection to the pipeline, its first component:
// Start connects to NATS (waiting for it rather than failing), waits until
// the layout is provisioned with this service's settings (the runners'
// consumers of Models too), opens the job records and makes the service's
// metrics registry with the connection's figures; Stop flushes what was
// published and drains the connection, last of all.
type Bus struct {
	settings Settings
	client   string
	models   []string
	log      *zap.Logger

	// Set by Start.
	NC    *nats.Conn
	JS    jetstream.JetStream
	Store *jobstore.Store
	// Drops counts what arrived on the bus and was thrown away.
	Drops *bus.Drops
	// Metrics is the service's registry, for /metrics.
	Metrics *prometheus.Registry
}

// NewBus makes the bus component of service name; client names the
// connection (the service and its instance).
func NewBus(s Settings, name, client string, log *zap.Logger, models ...string) *Bus {
	return &Bus{settings: s, client: client, models: models, log: log,
		Drops: bus.NewDrops(log.Named("bus"), time.Minute), Metrics: metrics.New(name)}
}

// Start connects, waits for the layout and opens the job records.
func (b *Bus) Start(ctx context.Context) error {
	nc, js, err := bus.Connect(b.settings.NATS, b.client, b.log)
	if err != nil {
		return err
	}
	b.NC, b.JS = nc, js
	// The streams and consumers are provisioned beforehand (make run, or
	// the provision command); services only check they match their
	// settings.
	waiting := func(err error) { b.log.Warn("waiting for NATS JetStream and provisioning", zap.Error(err)) }
	if err := bus.WaitProvisioned(ctx, js, b.settings.Bus, waiting, b.models...); err != nil {
		nc.Close()
		return err
	}
	b.Store, err = jobstore.Open(ctx, js, jobstore.WithRetention(b.settings.Retention))
	if err != nil {
		nc.Close()
		return err
	}
	metrics.NATS(b.Metrics, nc, b.Drops)
	return nil
}

// Stop flushes what was published (a shutdown's last hand-backs) within
// ctx, then drains the connection.
func (b *Bus) Stop(ctx context.Context) error {
	_ = b.NC.FlushWithContext(ctx)
	_ = b.NC.Drain()
	return nil
}
