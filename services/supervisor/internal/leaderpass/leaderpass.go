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

// Env is a pass's clock and logger.
type Env struct {
	// Now is the pass's clock; never nil.
	Now func() time.Time
	// Log is the logger named for the pass.
	Log *zap.Logger
}

// NewEnv makes the Env of the pass called name: now is its clock
// (time.Now when nil), logger is named name.
func NewEnv(name string, now func() time.Time, logger *zap.Logger) Env {
	if now == nil {
		now = time.Now
	}
	return Env{Now: now, Log: logger.Named(name)}
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
