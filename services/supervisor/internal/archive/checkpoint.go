package archive

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// checkpointKey holds the last revision of the record bucket archived and
// indexed.
const checkpointKey = "archive-revision"

func (a *Archiver) checkpoint(ctx context.Context) (uint64, error) {
	e, err := a.p.State.Get(ctx, checkpointKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return decodeCheckpoint(e.Value())
}

// decodeCheckpoint reads the checkpoint as encodeCheckpoint wrote it: a
// revision, 8 bytes big-endian.
func decodeCheckpoint(value []byte) (uint64, error) {
	if len(value) != 8 {
		return 0, fmt.Errorf("checkpoint of %d bytes, want 8", len(value))
	}
	return binary.BigEndian.Uint64(value), nil
}

func encodeCheckpoint(rev uint64) []byte { return binary.BigEndian.AppendUint64(nil, rev) }

func (a *Archiver) save(ctx context.Context, rev uint64) bool {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := a.p.State.Put(ctx, checkpointKey, encodeCheckpoint(rev)); err != nil {
		a.log.Warn("saving the archive checkpoint failed", zap.Uint64("revision", rev), zap.Error(err))
		return false
	}
	return true
}
