// Command gpu-runner pulls image-generation jobs when it has a free slot,
// runs them with ONNX Runtime, stores the PNGs in S3 and records the result.
package main

import (
	"context"

	"go.uber.org/zap"

	"cyberimage/services/gpu-runner/internal/config"
	"cyberimage/services/gpu-runner/internal/runner"
	"cyberimage/shared/service"
)

func main() { service.Main("gpu-runner", config.Load, run) }

// run starts the runner's components in order; they stop in reverse. A
// wedged inference (Fatal, or one that outlives the stop timeout) exits 3
// so the process manager starts a clean runner: nothing in-process can
// free it, and its jobs were already handed to another runner.
func run(ctx context.Context, cfg config.Config, log *zap.Logger, s *service.Stack) error {
	r, err := runner.New(cfg, log) // models, devices, ONNX Runtime
	if err != nil {
		return err
	}
	if err := s.Start(ctx, r.Devices(), r.Bus(), r.Storage()); err != nil {
		return err
	}
	r.Wire()
	s.Fatal(r.Fatal())
	if err := s.Start(ctx,
		r.Orders(),    // before work: an abandon for any job it may be given is heard
		r.Heartbeat(), // stops after the worker: the runner is seen alive while its jobs finish
		r.Worker(),
		r.Warmup(),
		r.Health(),
	); err != nil {
		return err
	}
	r.LogReady()
	return nil
}
