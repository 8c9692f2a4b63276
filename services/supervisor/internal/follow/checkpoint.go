package follow

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Codec is how a checkpoint's revision is written in its key. The
// archive's and the webhooks' checkpoints were written differently from
// the first and stay so: a supervisor must read what its predecessor
// wrote, and neither encoding can tell the other apart for sure.
type Codec struct {
	Encode func(rev uint64) []byte
	Decode func(value []byte) (uint64, error)
}

// Binary writes a revision as 8 bytes, big-endian (the archive's).
var Binary = Codec{
	Encode: func(rev uint64) []byte { return binary.BigEndian.AppendUint64(nil, rev) },
	Decode: func(value []byte) (uint64, error) {
		if len(value) != 8 {
			return 0, fmt.Errorf("checkpoint of %d bytes, want 8", len(value))
		}
		return binary.BigEndian.Uint64(value), nil
	},
}

// Decimal writes a revision as decimal digits (the webhooks').
var Decimal = Codec{
	Encode: func(rev uint64) []byte { return []byte(strconv.FormatUint(rev, 10)) },
	Decode: func(value []byte) (uint64, error) {
		rev, err := strconv.ParseUint(string(value), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("checkpoint %q: %w", value, err)
		}
		return rev, nil
	},
}

// saveTimeout bounds a checkpoint's write, so a follower stuck on an
// unavailable state bucket goes back to its work.
const saveTimeout = 5 * time.Second

// Checkpoint is the revision of the record bucket up to which a follower
// has dealt with every ended job, kept under Key in the state bucket.
type Checkpoint struct {
	State jetstream.KeyValue
	Key   string
	Codec Codec
}

// Load reads the checkpoint; found is false when none was ever saved.
func (c Checkpoint) Load(ctx context.Context) (rev uint64, found bool, err error) {
	e, err := c.State.Get(ctx, c.Key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	rev, err = c.Codec.Decode(e.Value())
	if err != nil {
		return 0, false, fmt.Errorf("%s: %w", c.Key, err)
	}
	return rev, true, nil
}

// Save writes rev as the checkpoint, within saveTimeout.
func (c Checkpoint) Save(ctx context.Context, rev uint64) error {
	ctx, cancel := context.WithTimeout(ctx, saveTimeout)
	defer cancel()
	_, err := c.State.Put(ctx, c.Key, c.Codec.Encode(rev))
	return err
}
