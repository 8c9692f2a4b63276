package watchdog

import (
	"context"
	"encoding/json"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"cyberimage/services/supervisor/internal/kvjson"
)

// History is what the watchdog remembers of one runner. It lives in KV
// (bus.BucketRunners), not in the leader's memory, so a supervisor that
// takes over judges a runner's second stall as the first leader would have.
type History struct {
	// Stalls are the times of recent recoveries from this runner, within
	// the recovery cooldown.
	Stalls []time.Time `json:"stalls,omitempty"`
	// LastEmergency is when a reload was last ordered.
	LastEmergency time.Time `json:"last_emergency,omitzero"`
	// ReloadOrder is the ID of the last reload ordered; until the
	// runner's heartbeat reports it carried it out, the runner is
	// unhealthy and the order is repeated.
	ReloadOrder string `json:"reload_order,omitempty"`
	// ReloadBoot is the runner process (its heartbeat's boot) the reload
	// was ordered to: a new incarnation of the runner started with fresh
	// models, and the order is void for it.
	ReloadBoot string `json:"reload_boot,omitempty"`
}

// Histories reads and changes runner histories.
type Histories interface {
	// Update applies change to a runner's history atomically.
	Update(ctx context.Context, runner string, change func(*History)) (History, error)
	// Get returns a runner's history (the zero History if none).
	Get(ctx context.Context, runner string) (History, error)
	// Pending lists the runners with a reload order.
	Pending(ctx context.Context) (map[string]History, error)
}

// KVHistories keeps histories in a KV bucket, one key per runner, each
// change a compare-and-set.
type KVHistories struct{ KV jetstream.KeyValue }

// Get returns a runner's history.
func (k KVHistories) Get(ctx context.Context, runner string) (History, error) {
	h, _, err := kvjson.Get(ctx, k.KV, runner, readHistory)
	return h, err
}

// readHistory starts a history that cannot be read afresh rather than
// blocking every judgement of the runner.
func readHistory(data []byte, h *History) error {
	if json.Unmarshal(data, h) != nil {
		*h = History{}
	}
	return nil
}

// Update changes a runner's history with a compare-and-set, retrying when
// another write came first.
func (k KVHistories) Update(ctx context.Context, runner string, change func(*History)) (History, error) {
	return kvjson.Update(ctx, k.KV, runner, readHistory, func(h *History) bool { change(h); return true })
}

// Pending lists the runners whose history holds a reload order.
func (k KVHistories) Pending(ctx context.Context) (map[string]History, error) {
	keys, err := k.KV.ListKeys(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]History{}
	for runner := range keys.Keys() {
		h, err := k.Get(ctx, runner)
		if err != nil {
			return nil, err
		}
		if h.ReloadOrder != "" {
			out[runner] = h
		}
	}
	return out, nil
}
