package watchdog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
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
	h, _, err := k.get(ctx, runner)
	return h, err
}

func (k KVHistories) get(ctx context.Context, runner string) (History, uint64, error) {
	e, err := k.KV.Get(ctx, runner)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return History{}, 0, nil
	}
	if err != nil {
		return History{}, 0, err
	}
	var h History
	if err := json.Unmarshal(e.Value(), &h); err != nil {
		// A history that cannot be read is started afresh rather than
		// blocking every judgement of the runner.
		return History{}, e.Revision(), nil
	}
	return h, e.Revision(), nil
}

// Update changes a runner's history with a compare-and-set, retrying when
// another write came first.
func (k KVHistories) Update(ctx context.Context, runner string, change func(*History)) (History, error) {
	for range 10 {
		h, rev, err := k.get(ctx, runner)
		if err != nil {
			return h, err
		}
		change(&h)
		data, _ := json.Marshal(h)
		if rev == 0 {
			_, err = k.KV.Create(ctx, runner, data)
		} else {
			_, err = k.KV.Update(ctx, runner, data, rev)
		}
		if err == nil {
			return h, nil
		}
		// Someone else wrote first: read again and redo the change.
		if !errors.Is(err, jetstream.ErrKeyExists) && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return h, err
		}
	}
	return History{}, fmt.Errorf("runner history %s: too many concurrent writes", runner)
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
