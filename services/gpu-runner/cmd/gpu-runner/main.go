// Command gpu-runner pulls image-generation jobs when it has a free slot,
// runs them with ONNX Runtime, stores the PNGs in S3 and records the result.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"

	"cyberimage/services/gpu-runner/internal/config"
	"cyberimage/services/gpu-runner/internal/runner"
	"cyberimage/shared/bus"
	sharedconfig "cyberimage/shared/config"
	"cyberimage/shared/logging"
	"cyberimage/shared/tracing"
)

func main() {
	cfg, err := config.Load(os.Args[1:], os.Stderr)
	if errors.Is(err, sharedconfig.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "gpu-runner: invalid configuration:\n%v\n", err)
		os.Exit(2)
	}
	logger, err := logging.New("gpu-runner", cfg.Log)
	if err != nil {
		fmt.Fprintf(os.Stderr, "gpu-runner: %v\n", err)
		os.Exit(2)
	}
	stopTracing := tracing.Start("gpu-runner", cfg.Tracing, logger)
	defer stopTracing()
	// exit flushes what deferred calls would have: os.Exit skips them, and
	// the spans of a runner's last moments are the ones worth reading.
	exit := func(code int) {
		stopTracing()
		_ = logger.Sync()
		os.Exit(code)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r, err := runner.Start(ctx, cfg, logger)
	if err != nil {
		logger.Error("runner failed to start", zap.Error(err))
		exit(bus.ExitCode(err))
	}
	select {
	case <-ctx.Done():
	case err := <-r.Fatal():
		// Nothing in-process can free a wedged inference: exit so the
		// process manager starts a clean runner. The job was already
		// handed to another runner by the supervisor.
		logger.Error("runner cannot continue; exiting for a restart", zap.Error(err))
		exit(3)
	}
	logger.Info("shutting down", zap.Duration("stop_timeout", cfg.StopTimeout))
	stopCtx, cancel := context.WithTimeout(context.Background(), cfg.StopTimeout)
	defer cancel()
	if err := r.Stop(stopCtx); err != nil {
		// A wedged inference outlived the stop timeout; its jobs were
		// handed back. Exit 3, as on an abandoned inference that hangs.
		logger.Error("runner did not stop cleanly; exiting for a restart", zap.Error(err))
		exit(3)
	}
	_ = logger.Sync()
}
