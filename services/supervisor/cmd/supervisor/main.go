// Command supervisor watches the pipeline and serves its status, job
// lookups and metrics over HTTP.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/zap"

	"cyberimage/services/supervisor/internal/app"
	"cyberimage/services/supervisor/internal/config"
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
		fmt.Fprintf(os.Stderr, "supervisor: invalid configuration:\n%v\n", err)
		os.Exit(2)
	}
	logger, err := logging.New("supervisor", cfg.Log)
	if err != nil {
		fmt.Fprintf(os.Stderr, "supervisor: %v\n", err)
		os.Exit(2)
	}
	stopTracing := tracing.Start("supervisor", cfg.Tracing, logger)
	defer stopTracing()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := app.Start(ctx, cfg, logger)
	if err != nil {
		logger.Error("supervisor failed to start", zap.Error(err))
		stopTracing() // os.Exit skips the deferred flush
		_ = logger.Sync()
		os.Exit(bus.ExitCode(err))
	}
	<-ctx.Done()
	logger.Info("shutting down")
	stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a.Stop(stopCtx)
	_ = logger.Sync()
}
