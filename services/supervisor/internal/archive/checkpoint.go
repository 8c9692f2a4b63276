package archive

import (
	"context"

	"go.uber.org/zap"

	"cyberimage/services/supervisor/internal/follow"
)

// checkpointKey holds the last revision of the record bucket archived and
// indexed.
const checkpointKey = "archive-revision"

// checkpoint is where the archive keeps it: 8 bytes, big-endian.
func (a *Archiver) checkpoint() follow.Checkpoint {
	return follow.Checkpoint{State: a.p.State, Key: checkpointKey, Codec: follow.Binary}
}

func (a *Archiver) save(ctx context.Context, rev uint64) bool {
	if err := a.checkpoint().Save(ctx, rev); err != nil {
		a.log.Warn("saving the archive checkpoint failed", zap.Uint64("revision", rev), zap.Error(err))
		return false
	}
	return true
}
