package runner

import (
	"fmt"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"cyberimage/shared/bus"
)

// listenForOrders takes the supervisor's orders on this runner's control
// subject. Each goes through the bus decoder; an order that does not
// decode, has expired, or concerns a delivery this runner does not hold
// changes nothing, and a panic in handling one is recovered.
func (r *Runner) listenForOrders() error {
	_, err := r.bus.NC.Subscribe(bus.ControlSubject(r.cfg.RunnerID), bus.Guard(r.bus.Drops, "order", r.order))
	if err != nil {
		return fmt.Errorf("subscribe %s: %w", bus.ControlSubject(r.cfg.RunnerID), err)
	}
	return nil
}

func (r *Runner) order(m *nats.Msg) {
	c, err := bus.DecodeControl(m.Data)
	if err == nil && c.Expired(r.clock()) {
		err = fmt.Errorf("%w: order expired at %s", bus.ErrMalformed, c.ExpiresAt)
	}
	if err != nil {
		r.bus.Drops.Note("junk:order", m.Subject, err)
		return
	}
	switch c.Action {
	case bus.ControlAbandon:
		if !r.worker.Abandon(c.JobID, c.Delivery, c.Reason) {
			r.log.Info("abandon order for a delivery not held here", zap.String("job_id", c.JobID), zap.String("delivery", c.Delivery))
		}
	case bus.ControlCancel:
		if !r.worker.Cancel(c.JobID, c.Delivery, c.Reason) {
			r.log.Debug("cancel order for a delivery not held here", zap.String("job_id", c.JobID), zap.String("delivery", c.Delivery))
		}
	case bus.ControlDrain:
		// Repeated until the heartbeat shows it: only a change is news.
		if r.worker.Drain() {
			r.log.Warn("drained on an operator's order: taking no new work, finishing what is held", zap.String("reason", c.Reason))
		}
	case bus.ControlUndrain:
		if r.worker.Undrain() {
			r.log.Info("undrained: taking work again", zap.String("reason", c.Reason))
		}
	case bus.ControlReload:
		r.ordersMu.Lock()
		defer r.ordersMu.Unlock()
		if r.stopCtx.Err() != nil {
			return // stopping
		}
		r.orders.Add(1)
		go r.reload(c)
	}
}
