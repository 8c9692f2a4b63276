// Command ingest validates image-generation requests from the requests
// stream, records each as a job and queues it for the GPU runners.
package main

import (
	"context"

	"go.uber.org/zap"

	"cyberimage/services/ingest/internal/app"
	"cyberimage/services/ingest/internal/config"
	"cyberimage/shared/service"
)

func main() { service.Main("ingest", config.Load, run) }

// run starts ingest's components in order; they stop in reverse.
func run(ctx context.Context, cfg config.Config, log *zap.Logger, s *service.Stack) error {
	a, err := app.New(cfg, log) // model catalog
	if err != nil {
		return err
	}
	if err := s.Start(ctx, a.Bus()); err != nil {
		return err
	}
	a.Wire()
	if err := s.Start(ctx,
		a.Summary(), // stops last: the run's counts
		a.Quotas(),  // before the intake, which waits for its counts
		a.Intake(),
		a.HTTP(),
	); err != nil {
		return err
	}
	a.LogReady()
	return nil
}
