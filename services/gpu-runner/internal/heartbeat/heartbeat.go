// Package heartbeat announces a runner every few seconds: who it is, what
// it serves, how busy it is and on what device, so the supervisor can list
// runners and tell a live one from a dead one.
package heartbeat

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"cyberimage/shared/bus"
)

// Params are what a Heartbeat needs.
type Params struct {
	NC       *nats.Conn
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
	stop chan struct{}
	wg   sync.WaitGroup
}

// New makes a Heartbeat.
func New(p Params) *Heartbeat {
	if p.Clock == nil {
		p.Clock = time.Now
	}
	return &Heartbeat{p: p, stop: make(chan struct{})}
}

// Start publishes at once, then every Interval.
func (h *Heartbeat) Start() {
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		t := time.NewTicker(h.p.Interval)
		defer t.Stop()
		for {
			h.beat()
			select {
			case <-h.stop:
				return
			case <-t.C:
			}
		}
	}()
}

func (h *Heartbeat) beat() {
	hb := h.p.Snapshot()
	hb.At = h.p.Clock().UTC()
	data, _ := json.Marshal(hb)
	if err := h.p.NC.Publish(bus.HeartbeatSubject(hb.Runner), data); err != nil {
		h.p.Logger.Debug("heartbeat", zap.Error(err))
	}
}

// Stop stops publishing and waits.
func (h *Heartbeat) Stop() {
	close(h.stop)
	h.wg.Wait()
}
