// Package webhook calls each ended job's callback_url: the leader POSTs
// the job's public record, signed (sign.go), to hosts the operator allows
// (checked again before every call, and at the address actually dialled:
// guard.go), retrying with backoff for a bounded time, and records every
// attempt in the webhooks bucket (book.go), where GET /v1/jobs/{id} shows
// it.
//
// The leader takes ended records from the index, which follows the record
// bucket anyway, as the archive does. A checkpoint in KV (the revision up
// to which every ended job's delivery is settled) lets a new leader carry
// on: it reads what ended since from the bucket, skips the deliveries the
// book shows settled and resumes the pending ones with their attempts and
// retry window. A call made just before a leader change may be made again
// by the next leader: delivery is at least once per job end, and the
// Cyberimage-Delivery header lets a receiver dedupe.
//
// Calls run in a bounded pool with a cap per host, and the deliveries
// waiting are bounded (the oldest dropped beyond, recorded as failed), so
// a slow or dead receiver holds a few slots and nothing else: the leader's
// loop never waits for a call (dispatch.go).
package webhook

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"cyberimage/services/supervisor/internal/follow"
	"cyberimage/services/supervisor/internal/index"
	"cyberimage/shared/backoff"
	"cyberimage/shared/defaults"
	"cyberimage/shared/job"
	"cyberimage/shared/lifecycle"
)

// Keeper keeps each job's delivery (Book, over the webhooks bucket).
type Keeper interface {
	Get(ctx context.Context, jobID string) (Status, bool, error)
	Put(ctx context.Context, jobID string, s Status) error
}

// Params are what Webhooks needs.
type Params struct {
	Ended   follow.Source
	Records jetstream.KeyValue // the job records, read to catch up
	State   jetstream.KeyValue // where the checkpoint is kept
	Book    Keeper
	Poster  Poster
	// Hosts are the receivers allowed, checked before every call.
	Hosts job.CallbackHosts
	// RetryFor bounds a delivery's retries, from its first attempt.
	RetryFor time.Duration
	// Workers bounds the calls in flight, PerHost those to one host.
	Workers, PerHost int
	// MaxPending bounds the deliveries held: beyond, the oldest is
	// dropped and recorded as failed.
	MaxPending int
	// Backoff is the wait between a delivery's attempts (default 2 s
	// doubling to 5 min, ±20%).
	Backoff backoff.Policy
	// FeedLimit bounds the ended records waiting in the index's feed.
	FeedLimit int
	// SaveEvery is how often the checkpoint is saved (default 5 s).
	SaveEvery time.Duration
	Metrics   *Metrics
	Logger    *zap.Logger
}

// Webhooks is the leader's caller of webhooks: a lifecycle.Component.
type Webhooks struct {
	p    Params
	log  *zap.Logger
	loop *lifecycle.Loop
}

// New makes the caller; nothing runs until Start.
func New(p Params) *Webhooks {
	if p.Backoff == (backoff.Policy{}) {
		p.Backoff = backoff.Policy{Base: 2 * time.Second, Max: 5 * time.Minute, Jitter: 0.2}
	}
	p.FeedLimit = defaults.Positive(p.FeedLimit, 10_000)
	p.SaveEvery = defaults.Positive(p.SaveEvery, 5*time.Second)
	if p.Metrics == nil {
		p.Metrics = NewMetrics()
	}
	p.Workers, p.PerHost, p.MaxPending = max(p.Workers, 1), max(p.PerHost, 1), max(p.MaxPending, 1)
	w := &Webhooks{p: p, log: p.Logger.Named("webhook")}
	w.loop = lifecycle.NewLoop(0, w.Run)
	return w
}

// Start calls webhooks in the background until Stop.
func (w *Webhooks) Start(ctx context.Context) error { return w.loop.Start(ctx) }

// Stop ends the calls in flight (the next leader resumes them) and saves
// the checkpoint, within ctx.
func (w *Webhooks) Stop(ctx context.Context) error { return w.loop.Stop(ctx) }

// Run calls webhooks until ctx ends (the lease is lost or the supervisor
// stops): one session after another over the same deliveries, each from
// the checkpoint.
func (w *Webhooks) Run(ctx context.Context) {
	x := newDispatcher(ctx, &w.p, w.log)
	var taken uint64 // every job that ended up to here is in x or settled
	defer func() {
		x.wait() // deliveries cut short stay held, below the checkpoint
		cp := x.lowWater(taken)
		if taken > 0 {
			save, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			defer cancel()
			w.save(save, cp)
		}
	}()
	for ctx.Err() == nil {
		_ = lifecycle.Retry(ctx, w.policy(), func(ctx context.Context) error { return w.session(ctx, x, &taken) })
	}
}

// policy is how sessions are retried: follow.Retry.
func (w *Webhooks) policy() lifecycle.Policy {
	return follow.Retry(w.log, "a webhook session failed; starting again from the checkpoint")
}

// session hands x every job that ended after the checkpoint: first what
// ended before the index's feed began, read from the bucket, then the
// feed, until ctx ends or the feed is lost (nil: start again at once).
func (w *Webhooks) session(ctx context.Context, x *dispatcher, taken *uint64) error {
	from, found, err := checkpointIn(w.p.State).Load(ctx)
	if err != nil {
		return fmt.Errorf("read the webhook checkpoint: %w", err)
	}
	feed, fed := w.p.Ended.FollowEnded(w.p.FeedLimit, from)
	defer w.p.Ended.Unfollow(feed)
	if !found {
		// The first leader to call webhooks begins with the jobs that end
		// from now on, not with every ended job the bucket holds.
		if !w.save(ctx, fed) {
			return errors.New("could not save the first webhook checkpoint")
		}
		from = fed
	}
	*taken = max(*taken, from)
	// What ended before the feed began, as the record bucket holds it
	// now (a job ended and then re-queued in between is left to its next
	// end), in batches of FeedLimit so a long outage is not read into
	// memory at once.
	for read := from; read < fed; {
		ended, next, err := follow.ReadEnded(ctx, w.p.Records, read, fed, w.p.FeedLimit)
		if err != nil {
			return err
		}
		for _, e := range ended {
			x.add(e.Revision, e.Record)
		}
		*taken = max(*taken, next)
		read = next
	}
	saved := from
	tick := time.NewTicker(w.p.SaveEvery)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			if cp := x.lowWater(*taken); cp != saved && w.save(ctx, cp) {
				saved = cp
			}
		case <-feed.Signal():
			if !take(feed, x, taken) {
				w.log.Info("webhooks fell behind the index's feed; reading the bucket from the checkpoint")
				return nil
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// take hands x what the feed holds; false when the feed was lost (what
// it dropped is read from the bucket, so taken stays).
func take(feed *index.Feed, x *dispatcher, taken *uint64) bool {
	items, covered, lost := feed.Take()
	if lost {
		return false
	}
	for _, e := range items {
		x.add(e.Revision, e.Record)
	}
	*taken = max(*taken, covered)
	return true
}

// checkpointKey holds, in the supervisor's state bucket, the revision of
// the record bucket up to which every ended job's delivery is settled.
const checkpointKey = "webhook-revision"

// checkpointIn is where the webhooks keep it in state: decimal digits.
func checkpointIn(state jetstream.KeyValue) follow.Checkpoint {
	return follow.Checkpoint{State: state, Key: checkpointKey, Codec: follow.Decimal}
}

func (w *Webhooks) save(ctx context.Context, rev uint64) bool {
	if err := checkpointIn(w.p.State).Save(ctx, rev); err != nil {
		w.log.Warn("saving the webhook checkpoint failed", zap.Uint64("revision", rev), zap.Error(err))
		return false
	}
	return true
}
