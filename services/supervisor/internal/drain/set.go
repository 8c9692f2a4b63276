package drain

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"cyberimage/services/supervisor/internal/kvjson"
)

// setKey is the key of the drained runners in the supervisor's bucket
// (bus.BucketSupervisor): one key for all, so a change is one
// compare-and-set whatever the runner's name (KV keys allow fewer
// characters than runner names).
const setKey = "drained-runners"

// Entry is one drained runner.
type Entry struct {
	// At is when an operator drained it.
	At time.Time `json:"at"`
}

// Set is the runners an operator drained, kept in KV: it outlives any
// supervisor's restart, and every replica (and the next leader) reads the
// same.
type Set struct{ KV jetstream.KeyValue }

// List returns the drained runners.
func (s Set) List(ctx context.Context) (map[string]Entry, error) {
	m, _, err := kvjson.Get[map[string]Entry](ctx, s.KV, setKey, nil)
	if err != nil {
		return nil, fmt.Errorf("drained runners: %w", err)
	}
	if m == nil {
		m = map[string]Entry{}
	}
	return m, nil
}

// Add drains runner (kept from the first time when already drained).
func (s Set) Add(ctx context.Context, runner string, at time.Time) error {
	return s.update(ctx, func(m map[string]Entry) bool {
		if _, ok := m[runner]; ok {
			return false
		}
		m[runner] = Entry{At: at.UTC()}
		return true
	})
}

// Remove undrains runner.
func (s Set) Remove(ctx context.Context, runner string) error {
	return s.update(ctx, func(m map[string]Entry) bool {
		if _, ok := m[runner]; !ok {
			return false
		}
		delete(m, runner)
		return true
	})
}

// update applies change to the set (another replica's change meanwhile
// is read and kept); change reports whether it changed anything.
func (s Set) update(ctx context.Context, change func(map[string]Entry) bool) error {
	_, err := kvjson.Update(ctx, s.KV, setKey, nil, func(m *map[string]Entry) bool {
		if *m == nil {
			*m = map[string]Entry{}
		}
		return change(*m)
	})
	if err != nil {
		return fmt.Errorf("drained runners: %w", err)
	}
	return nil
}
