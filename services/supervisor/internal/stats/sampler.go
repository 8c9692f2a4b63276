package stats

import (
	"context"
	"time"

	"go.uber.org/zap"

	"cyberimage/services/supervisor/internal/index"
	"cyberimage/shared/defaults"
	"cyberimage/shared/lifecycle"
)

// Source is where ended records come from: the supervisor's index.
type Source interface {
	// CatchUp's target is the bucket's revision when following began:
	// records that ended up to it ended before this process started, at
	// times the feed does not tell, so they are not counted.
	CatchUp() (applied, target uint64, caughtUp bool)
	FollowEnded(limit int, after uint64) (*index.Feed, uint64)
	Unfollow(*index.Feed)
}

// Params configure a Sampler.
type Params struct {
	Recorder *Recorder
	Ended    Source
	// Queue samples the work queue's depth by model and by priority.
	Queue func(ctx context.Context) (byModel, byPriority map[string]int, err error)
	// Runners lists what the runners last said of their load.
	Runners func() []RunnerSample
	// Every is how often the queue and runners are sampled (15 s).
	Every time.Duration
	// FeedLimit bounds the ended records waiting to be counted (10,000);
	// past it the feed is dropped and followed anew, and the records in
	// between are not counted.
	FeedLimit int
	Logger    *zap.Logger
}

// Sampler feeds a Recorder from what the supervisor already follows: the
// records the index sees end, the consumers' pending counts, and the
// runners' heartbeats. Every replica runs one, so any can draw the charts.
type Sampler struct {
	p     Params
	log   *zap.Logger
	loops lifecycle.Group
	feed  *index.Feed // the follow loop's alone
}

// NewSampler makes a Sampler; Start runs it.
func NewSampler(p Params) *Sampler {
	p.Every = defaults.Positive(p.Every, 15*time.Second)
	p.FeedLimit = defaults.Positive(p.FeedLimit, 10_000)
	s := &Sampler{p: p, log: p.Logger.Named("stats")}
	s.loops = lifecycle.Group{lifecycle.NewLoop(0, s.follow), lifecycle.NewLoop(p.Every, s.Sample, lifecycle.AtOnce())}
	return s
}

// Start begins counting and sampling: a lifecycle.Component.
func (s *Sampler) Start(ctx context.Context) error { return s.loops.Start(ctx) }

// Stop ends both loops, within ctx, and the feed.
func (s *Sampler) Stop(ctx context.Context) error {
	err := s.loops.Stop(ctx)
	if err == nil && s.feed != nil { // the follow loop has returned: the feed is ours
		s.p.Ended.Unfollow(s.feed)
		s.feed = nil
	}
	return err
}

// follow counts the records that ended since its last pass, waiting for
// some to arrive.
func (s *Sampler) follow(ctx context.Context) {
	if s.feed == nil {
		_, target, _ := s.p.Ended.CatchUp()
		s.feed, _ = s.p.Ended.FollowEnded(s.p.FeedLimit, target)
	}
	select {
	case <-ctx.Done():
		return
	case <-s.feed.Signal():
	}
	items, _, lost := s.feed.Take()
	for _, e := range items {
		s.p.Recorder.Ended(e.Record)
	}
	if lost {
		s.log.Warn("fell behind the ended records; some are not in the charts", zap.Int("feed_limit", s.p.FeedLimit))
		s.p.Ended.Unfollow(s.feed)
		s.feed = nil
	}
}

// Sample takes one sample of the queue's depth and the runners' load.
func (s *Sampler) Sample(ctx context.Context) {
	if s.p.Runners != nil {
		for _, r := range s.p.Runners() {
			s.p.Recorder.Runner(r)
		}
	}
	if s.p.Queue == nil {
		return
	}
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	byModel, byPriority, err := s.p.Queue(qctx)
	if err != nil {
		s.log.Debug("sampling the queue depth", zap.Error(err))
		return
	}
	s.p.Recorder.Depth(byModel, byPriority)
}
