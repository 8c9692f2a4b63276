// Package kvjson keeps a JSON value under a key of a KV bucket, each
// change a compare-and-set that is redone when another writer came first:
// state every supervisor replica shares (the watchdog's runner histories,
// the drained runners).
package kvjson

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// Decode reads a stored value into v; nil is json.Unmarshal. A lenient
// one may start afresh from a value it cannot read rather than fail.
type Decode[T any] func(data []byte, v *T) error

// Get returns the value under key and its revision (the zero value and 0
// when there is none).
func Get[T any](ctx context.Context, kv jetstream.KeyValue, key string, decode Decode[T]) (T, uint64, error) {
	var v T
	e, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return v, 0, nil
	}
	if err != nil {
		return v, 0, err
	}
	if decode == nil {
		decode = func(data []byte, v *T) error { return json.Unmarshal(data, v) }
	}
	if err := decode(e.Value(), &v); err != nil {
		return v, 0, fmt.Errorf("%s: %w", key, err)
	}
	return v, e.Revision(), nil
}

// maxTries bounds the compare-and-sets one Update makes.
const maxTries = 10

// Update applies change to the value under key and writes it only if the
// key has not changed since it was read, reading again and redoing the
// change when it has; change reports whether it changed anything (nothing
// is written when not). It returns the value as written (or left).
func Update[T any](ctx context.Context, kv jetstream.KeyValue, key string, decode Decode[T], change func(*T) bool) (T, error) {
	for range maxTries {
		v, rev, err := Get(ctx, kv, key, decode)
		if err != nil {
			return v, err
		}
		if !change(&v) {
			return v, nil
		}
		data, err := json.Marshal(v)
		if err != nil {
			return v, err
		}
		if rev == 0 {
			_, err = kv.Create(ctx, key, data)
		} else {
			_, err = kv.Update(ctx, key, data, rev)
		}
		if err == nil {
			return v, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return v, err
		}
	}
	var zero T
	return zero, fmt.Errorf("%s: too many concurrent writes", key)
}
