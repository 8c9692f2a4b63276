// Package drain lets an operator drain a runner before maintenance (it
// takes no new work, finishes what it holds and stays up) and undrain it.
// Which runners are drained is kept in KV (Set), so it outlives supervisor
// restarts and leader changes; the runner is told on its control subject
// (bus.ControlDrain, bus.ControlUndrain) at once, and the leader repeats
// the order to every live runner whose heartbeat disagrees (Pass): an
// order lost on core NATS, or a drained runner restarted by its process
// manager, ends up as the operator asked within PassInterval of its next
// heartbeat.
package drain

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"cyberimage/services/supervisor/internal/leaderpass"
	"cyberimage/services/supervisor/internal/tracker"
	"cyberimage/shared/bus"
)

// PassInterval is how often the leader compares heartbeats with the set.
// Short: a restarted drained runner pulls work until it hears.
const PassInterval = time.Second

// Runners lists the runners heard from.
type Runners interface{ Runners() []tracker.Runner }

// Publisher sends an order (a *nats.Conn).
type Publisher interface {
	Publish(subject string, data []byte) error
}

// Params are what Drains needs.
type Params struct {
	Set     Set
	Runners Runners
	NC      Publisher
	// Deps.Now is the clock of orders and entries.
	leaderpass.Deps
}

// Drains drains and undrains runners.
type Drains struct{ p Params }

// New makes Drains.
func New(p Params) *Drains {
	p.Deps = p.For("drain")
	return &Drains{p: p}
}

// Drained returns the drained runners.
func (d *Drains) Drained(ctx context.Context) (map[string]Entry, error) { return d.p.Set.List(ctx) }

// Drain records that runner is drained and orders it so.
func (d *Drains) Drain(ctx context.Context, runner string) error {
	if err := d.p.Set.Add(ctx, runner, d.p.Now()); err != nil {
		return err
	}
	d.orderNow(runner, true)
	return nil
}

// Undrain records that runner takes work again and orders it so.
func (d *Drains) Undrain(ctx context.Context, runner string) error {
	if err := d.p.Set.Remove(ctx, runner); err != nil {
		return err
	}
	d.orderNow(runner, false)
	return nil
}

// Pass orders every live runner whose heartbeat disagrees with the set,
// and returns how many it ordered. The leader runs it every PassInterval.
func (d *Drains) Pass(ctx context.Context) int {
	drained, err := d.p.Set.List(ctx)
	if err != nil {
		d.p.Logger.Warn("read drained runners", zap.Error(err))
		return 0
	}
	ordered := 0
	for _, r := range d.p.Runners.Runners() {
		_, want := drained[r.Runner]
		if r.Health == "lost" || r.Draining == want {
			continue
		}
		if err := d.order(r.Runner, want, "repeated: heartbeat does not show it"); err != nil {
			d.p.Logger.Warn("repeat drain order", zap.String("runner", r.Runner), zap.Error(err))
			continue
		}
		d.p.Logger.Debug("drain order repeated", zap.String("runner", r.Runner), zap.Bool("drain", want), zap.String("boot", r.Boot))
		ordered++
	}
	return ordered
}

// orderNow tells the runner of an operator's change at once; an order
// that cannot be sent is not the operator's failure: the change is kept,
// and the leader's Pass sends it again.
func (d *Drains) orderNow(runner string, drain bool) {
	if err := d.order(runner, drain, "operator request"); err != nil {
		d.p.Logger.Warn("drain order not sent; the leader repeats it", zap.String("runner", runner), zap.Error(err))
	}
}

func (d *Drains) order(runner string, drain bool, reason string) error {
	c := bus.DrainOrder(drain, reason, d.p.Now())
	if err := d.p.NC.Publish(bus.ControlSubject(runner), bus.EncodeControl(c)); err != nil {
		return fmt.Errorf("order %s to %s: %w", c.Action, runner, err)
	}
	return nil
}
