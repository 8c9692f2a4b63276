// Command supervisor watches the pipeline and serves its status, job
// lookups and metrics over HTTP.
package main

import (
	"context"

	"go.uber.org/zap"

	"cyberimage/services/supervisor/internal/app"
	"cyberimage/services/supervisor/internal/config"
	"cyberimage/shared/service"
)

func main() { service.Main("supervisor", config.Load, run) }

// run starts the supervisor's components in order; they stop in reverse.
func run(ctx context.Context, cfg config.Config, log *zap.Logger, s *service.Stack) error {
	a, err := app.New(cfg, log) // model catalog, S3 client
	if err != nil {
		return err
	}
	if err := s.Start(ctx, a.Bus()); err != nil {
		return err
	}
	if err := a.Wire(ctx); err != nil {
		return err
	}
	if err := s.Start(ctx,
		a.Index(), a.Tracker(), a.Acks(), // watchers: every replica keeps them
		a.Stats(),    // the charts' figures, from the watchers
		a.Actors(),   // the leader's loops, started and stopped by the lease
		a.API(),      // serves while the index catches up
		a.CaughtUp(), // waits for the index: only a whole view may lead
		a.Lease(),
		a.FinalSnapshot(), // stops first, while the lease is held
	); err != nil {
		return err
	}
	a.LogReady()
	return nil
}
