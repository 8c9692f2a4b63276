// Package leaderpass is what the leader's periodic passes (the watchdog,
// the reconciler, the expiry sweep, the drain orders) share, so that each
// of their packages says only what it judges: the clock it judges by
// (time.Now, or a test's), a logger named for the pass, and how a failed
// pass is reported. The loop that runs them is lifecycle.Loop.
package leaderpass

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// Deps are the clock and logger every pass's Params embed, so each pass
// takes them, and defaults the clock, the same way.
type Deps struct {
	// Now is the pass's clock; time.Now when nil.
	Now func() time.Time
	// Logger is named for the pass by Env.
	Logger *zap.Logger
}

// Env is a pass's clock and logger, made by Deps.Env.
type Env struct {
	// Now is the pass's clock; never nil.
	Now func() time.Time
	// Log is the logger named for the pass.
	Log *zap.Logger
}

// Env makes the Env of the pass called name: its clock is d.Now (time.Now
// when nil), its logger d.Logger named name.
func (d Deps) Env(name string) Env {
	now := d.Now
	if now == nil {
		now = time.Now
	}
	return Env{Now: now, Log: d.Logger.Named(name)}
}

// Pass runs once and logs its error as a warning about what, unless ctx
// ended meanwhile (the lead was lost or the loop stopped, which is no
// failure). A failed pass is not retried here: the loop's next interval
// is the retry.
func (e Env) Pass(ctx context.Context, what string, once func(context.Context) (int, error)) {
	if _, err := once(ctx); err != nil && ctx.Err() == nil {
		e.Log.Warn(what, zap.Error(err))
	}
}
