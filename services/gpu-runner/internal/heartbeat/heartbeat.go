// Package heartbeat announces a runner every few seconds: who it is, what
// it serves, how busy it is and on what device, so the supervisor can list
// runners and tell a live one from a dead one.
package heartbeat

import (
	"context"
	"time"

	"go.uber.org/zap"

	"cyberimage/shared/bus"
	"cyberimage/shared/lifecycle"
)

// Publisher sends one message on a subject; *nats.Conn is one, and tests
// pass a recorder.
type Publisher interface {
	Publish(subject string, data []byte) error
}

// Params are what a Heartbeat needs.
type Params struct {
	NC       Publisher
	Interval time.Duration
	// Snapshot returns the current announcement; At is filled in here.
	Snapshot func() bus.Heartbeat
	Logger   *zap.Logger
	// Clock stamps At (time.Now when nil); the supervisor judges liveness
	// by when a heartbeat arrives, not by this.
	Clock func() time.Time
}

// Heartbeat publishes on a ticker until stopped.
type Heartbeat struct {
	p    Params
	loop *lifecycle.Loop
}

// New makes a Heartbeat.
func New(p Params) *Heartbeat {
	if p.Clock == nil {
		p.Clock = time.Now
	}
	h := &Heartbeat{p: p}
	h.loop = lifecycle.NewLoop(p.Interval, func(context.Context) { h.beat() })
	return h
}

// Start publishes at once, then every Interval.
func (h *Heartbeat) Start(ctx context.Context) error {
	h.beat()
	return h.loop.Start(ctx)
}

func (h *Heartbeat) beat() {
	hb := h.p.Snapshot()
	hb.At = h.p.Clock().UTC()
	if err := h.p.NC.Publish(bus.HeartbeatSubject(hb.Runner), bus.EncodeHeartbeat(hb)); err != nil {
		h.p.Logger.Debug("heartbeat", zap.Error(err))
	}
}

// Stop stops publishing and waits, within ctx, for a beat being sent.
func (h *Heartbeat) Stop(ctx context.Context) error { return h.loop.Stop(ctx) }
