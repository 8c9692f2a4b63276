package runner

import (
	"context"
	"time"

	"go.uber.org/zap"

	"cyberimage/shared/backoff"
	"cyberimage/shared/bus"
	"cyberimage/shared/lifecycle"
)

// reload carries out a reload order: the runner is quarantined (its slots
// pull no new work) while every model session is dropped and opened again
// on every device the runner uses, and stays quarantined, retrying with
// backoff, until that succeeds. The order's ID is then reported in
// heartbeats, which is how the supervisor learns the runner is healthy.
// A repeated order (the supervisor sends it until it sees the ID) is
// carried out once.
func (r *Runner) reload(order bus.Control) {
	defer r.orders.Done()
	r.reloadMu.Lock()
	defer r.reloadMu.Unlock()
	if order.ID != "" && r.lastReload.Load() == order.ID {
		r.log.Debug("reload order already carried out", zap.String("order", order.ID))
		return
	}
	r.worker.Hold()
	defer r.worker.Resume()
	r.log.Warn("quarantined: reloading every model on the supervisor's order", zap.String("reason", order.Reason), zap.String("order", order.ID))
	retry := lifecycle.Policy{Backoff: backoff.Policy{Base: time.Second, Max: 30 * time.Second, Jitter: 0.2},
		OnRetry: func(_ int, err error, wait time.Duration) {
			r.log.Error("model reload failed; still quarantined, retrying", zap.Duration("retry_in", wait), zap.Error(err))
		}}
	err := lifecycle.Retry(r.stopCtx, retry, func(context.Context) error {
		dropped := r.registry.Reload()
		if err := r.warm(); err != nil {
			return err
		}
		r.log.Info("models reloaded; taking work again", zap.Strings("dropped", dropped), zap.Strings("models", r.served))
		return nil
	})
	if err != nil {
		return // stopping
	}
	r.lastReload.Store(order.ID)
}

// warm opens every served model on every device the slots use, so a
// reload is known to have worked before work is taken again.
func (r *Runner) warm() error {
	for _, model := range r.served {
		seen := map[int]bool{}
		for _, gpu := range r.slotGPUs {
			key := -1
			if gpu != nil {
				key = *gpu
			}
			if seen[key] {
				continue
			}
			seen[key] = true
			_, release, err := r.registry.For(model, gpu)
			if err != nil {
				return err
			}
			release()
		}
	}
	return nil
}
