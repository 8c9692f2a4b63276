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
	// Now is the pass's clock; time.Now when nil (For sets it).
	Now func() time.Time
	// Logger is the pass's logger; For names it for the pass.
	Logger *zap.Logger
}

// For is d made ready for the pass called name: its clock time.Now when
// none was given, its logger named name. Each pass's New keeps it in
// place of the Deps it was given.
func (d Deps) For(name string) Deps {
	if d.Now == nil {
		d.Now = time.Now
	}
	d.Logger = d.Logger.Named(name)
	return d
}

// Pass runs once and logs its error as a warning about what, unless ctx
// ended meanwhile (the lead was lost or the loop stopped, which is no
// failure). A failed pass is not retried here: the loop's next interval
// is the retry.
func (d Deps) Pass(ctx context.Context, what string, once func(context.Context) (int, error)) {
	if _, err := once(ctx); err != nil && ctx.Err() == nil {
		d.Logger.Warn(what, zap.Error(err))
	}
}
