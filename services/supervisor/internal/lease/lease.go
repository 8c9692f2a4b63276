// Package lease elects one acting supervisor among replicas with a lease
// key in a KV bucket whose entries expire (bus.LeaseTTL): the holder renews
// it with a compare-and-set well inside the TTL; the others try to create it
// and succeed only once it has expired.
package lease

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"cyberimage/shared/lifecycle"
)

const key = "supervisor-leader"

// Lease campaigns for leadership until stopped.
type Lease struct {
	kv    jetstream.KeyValue
	id    string
	every time.Duration
	log   *zap.Logger

	leader   atomic.Bool
	revision uint64
	holder   atomic.Value // string
	// onChange hears every gain and loss of the lead, in order, from the
	// campaign's goroutine: leader-only loops start and stop on it.
	onChange func(leading bool)

	campaign *lifecycle.Loop
	stopOnce sync.Once
}

// New makes a lease campaign for this supervisor; ttl is the bucket's TTL.
// onChange (may be nil) is called on every gain and loss of the lead.
func New(kv jetstream.KeyValue, id string, ttl time.Duration, logger *zap.Logger, onChange func(leading bool)) *Lease {
	if onChange == nil {
		onChange = func(bool) {}
	}
	l := &Lease{kv: kv, id: id, every: ttl / 3, log: logger.Named("lease"), onChange: onChange}
	l.holder.Store("")
	l.campaign = lifecycle.NewLoop(l.every, l.runOnce)
	return l
}

// Start campaigns at once and then every TTL/3.
func (l *Lease) Start(ctx context.Context) error {
	l.runOnce(ctx)
	return l.campaign.Start(ctx)
}

// Stop ends the campaign and gives the lease up so another replica takes
// over at once instead of after the TTL. It waits for a campaign in
// progress whatever ctx says (each is bounded by the campaign interval):
// the lease must not be given up while a renewal may still write it. A
// second Stop does nothing.
func (l *Lease) Stop(context.Context) error {
	l.stopOnce.Do(func() {
		_ = l.campaign.Stop(context.Background())
		if l.leader.Load() {
			// Stop acting first, then free the lease for a successor.
			l.leader.Store(false)
			l.onChange(false)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_ = l.kv.Delete(ctx, key, jetstream.LastRevision(l.revision))
		}
	})
	return nil
}

// IsLeader reports whether this replica holds the lease now.
func (l *Lease) IsLeader() bool { return l.leader.Load() }

// Holder is the id of the leader as last seen.
func (l *Lease) Holder() string { return l.holder.Load().(string) }

// runOnce is one campaign: renew the lease held, or try to take it. It
// has its own context, bounded by the campaign interval: a renewal cut
// short by Stop would read as a lost lease, and Stop gives the lease up
// itself.
func (l *Lease) runOnce(context.Context) {
	ctx, cancel := context.WithTimeout(context.Background(), l.every)
	defer cancel()
	if l.leader.Load() {
		rev, err := l.kv.Update(ctx, key, []byte(l.id), l.revision)
		if err == nil {
			l.revision = rev
			return
		}
		// Lost it (expired, or NATS unreachable past the TTL): stop acting
		// before anyone else can start.
		l.leader.Store(false)
		l.log.Warn("leadership lost", zap.Error(err))
		l.onChange(false)
	}
	rev, err := l.kv.Create(ctx, key, []byte(l.id))
	if err == nil {
		l.revision = rev
		l.leader.Store(true)
		l.holder.Store(l.id)
		l.log.Info("leadership acquired", zap.String("supervisor", l.id))
		l.onChange(true)
		return
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		l.log.Debug("lease campaign", zap.Error(err))
	}
	if e, err := l.kv.Get(ctx, key); err == nil {
		l.holder.Store(decodeHolder(e.Value()))
	}
}

// maxHolderBytes bounds the holder's id as read from the lease: a
// supervisor id is a host name and a pid, and the holder is shown in
// /status and logs.
const maxHolderBytes = 256

// decodeHolder reads the holder's id from the lease's value; "" (not
// known) when the value is not an id a supervisor would write: anyone who
// may write to the bucket may write anything there.
func decodeHolder(value []byte) string {
	if len(value) > maxHolderBytes || !utf8.Valid(value) {
		return ""
	}
	id := string(value)
	if strings.IndexFunc(id, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return ""
	}
	return id
}
