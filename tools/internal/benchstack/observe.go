package benchstack

import (
	"context"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"cyberimage/shared/bus"
	"cyberimage/shared/jobstore"
	"cyberimage/shared/natsauth"
)

// Observer is the harness's own view of a bench's bus: a connection with
// the supervisor's read rights and the job records through it.
type Observer struct {
	NC    *nats.Conn
	JS    jetstream.JetStream
	Store *jobstore.Store
}

// Observe makes the layout for models with settings as admin (connected
// as "<bench>-admin"), as a deployment's provision step does, then
// connects as the supervisor's default identity ("<bench>-observer") and
// opens the job records: admin only makes the layout, and the harness
// watches with read rights. The caller closes NC.
func (c *Creds) Observe(ctx context.Context, url, bench string, settings bus.Settings, models ...string) (*Observer, error) {
	if err := c.Provision(ctx, url, bench+"-admin", settings, models...); err != nil {
		return nil, err
	}
	nc, js, err := c.Connect(url, natsauth.Supervisor, bench+"-observer")
	if err != nil {
		return nil, err
	}
	store, err := jobstore.Open(ctx, js)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return &Observer{NC: nc, JS: js, Store: store}, nil
}
