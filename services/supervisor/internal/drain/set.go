package drain

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
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
	m, _, err := s.get(ctx)
	return m, err
}

func (s Set) get(ctx context.Context) (map[string]Entry, uint64, error) {
	e, err := s.KV.Get(ctx, setKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return map[string]Entry{}, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("drained runners: %w", err)
	}
	m := map[string]Entry{}
	if err := json.Unmarshal(e.Value(), &m); err != nil {
		return nil, 0, fmt.Errorf("drained runners: %w", err)
	}
	return m, e.Revision(), nil
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

// update applies change with a compare-and-set, reading again when
// another replica wrote first; change reports whether it changed anything.
func (s Set) update(ctx context.Context, change func(map[string]Entry) bool) error {
	for range 10 {
		m, rev, err := s.get(ctx)
		if err != nil {
			return err
		}
		if !change(m) {
			return nil
		}
		data, _ := json.Marshal(m)
		if rev == 0 {
			_, err = s.KV.Create(ctx, setKey, data)
		} else {
			_, err = s.KV.Update(ctx, setKey, data, rev)
		}
		if err == nil {
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return fmt.Errorf("drained runners: %w", err)
		}
	}
	return errors.New("drained runners: too many concurrent writes")
}
