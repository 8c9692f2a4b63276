// Package follow is what the leader's followers of ended jobs (the
// archive, the webhooks) share. Each takes ended records from the index's
// feed, keeps in the state bucket a checkpoint of the record bucket's
// revision it has dealt with, and after a restart, a leader change or a
// lost feed reads what ended since the checkpoint from the record bucket
// before the feed takes over again.
package follow

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"cyberimage/services/supervisor/internal/index"
	"cyberimage/shared/backoff"
	"cyberimage/shared/jobstore"
	"cyberimage/shared/lifecycle"
)

// Source is where ended records come from: the supervisor's index.
type Source interface {
	FollowEnded(limit int, after uint64) (*index.Feed, uint64)
	Unfollow(*index.Feed)
}

// ReadEnded reads from the record bucket the records that ended after
// revision from and no later than to, in revision order, as the bucket
// holds them now, from one watch; a limit above 0 stops it after that
// many (0: all of them). next is the revision it read up to: to, or the
// last record's when limit stopped it. A record that does not decode is
// passed over (it is the index's to report). The watch is closed before
// it returns, so a caller may take its time over the records: a watch
// left unread stalls on the server's flow control.
func ReadEnded(ctx context.Context, records jetstream.KeyValue, from, to uint64, limit int) (ended []index.Ended, next uint64, err error) {
	watcher, err := records.WatchAll(ctx, jetstream.ResumeFromRevision(from+1), jetstream.IncludeHistory())
	if err != nil {
		return nil, from, fmt.Errorf("read the record bucket: %w", err)
	}
	defer func() { _ = watcher.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return nil, from, ctx.Err()
		case e, open := <-watcher.Updates():
			switch {
			case !open:
				return nil, from, fmt.Errorf("read the record bucket: the watch ended")
			case e == nil || e.Revision() > to:
				// Caught up: the bucket was at or past to when the watch began.
				return ended, to, nil
			}
			if e.Operation() == jetstream.KeyValuePut {
				if rec, err := jobstore.Decode(e.Value()); err == nil && index.Archivable(e.Key(), rec) {
					ended = append(ended, index.Ended{Revision: e.Revision(), Record: rec})
				}
			}
			if (limit > 0 && len(ended) >= limit) || e.Revision() == to {
				return ended, e.Revision(), nil
			}
		}
	}
}

// Retry is how a follower's sessions (and its other writes) are retried:
// with backoff from half a second to half a minute, logging what on the
// first failure and every tenth.
func Retry(log *zap.Logger, what string) lifecycle.Policy {
	return lifecycle.Policy{Backoff: backoff.Policy{Base: 500 * time.Millisecond, Max: 30 * time.Second, Jitter: 0.2},
		OnRetry: func(attempt int, err error, _ time.Duration) {
			if attempt == 1 || attempt%10 == 0 {
				log.Warn(what, zap.Int("attempt", attempt), zap.Error(err))
			}
		}}
}
