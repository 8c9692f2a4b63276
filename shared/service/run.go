package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/zap"

	"cyberimage/shared/bus"
	"cyberimage/shared/config"
	"cyberimage/shared/logging"
	"cyberimage/shared/tracing"
)

// Exit codes of a service's process.
const (
	// ExitOK: stopped on a signal, cleanly.
	ExitOK = 0
	// ExitFailed: could not start (NATS never provisioned, a missing
	// file, ...).
	ExitFailed = 1
	// ExitConfig: invalid settings, or a system provisioned with other
	// settings than this service's (bus.ErrSettingsDiffer).
	ExitConfig = 2
	// ExitRestart: the process cannot continue or did not stop cleanly
	// (an inference wedged past the stop timeout); its process manager
	// starts a clean one.
	ExitRestart = 3
)

// Configured is a service's configuration: it carries the settings every
// service has (Settings, embedded).
type Configured interface {
	Common() Settings
}

// Build starts a service's components on s, in order; it returns the
// first error. It runs once, with a context that ends on SIGINT or
// SIGTERM.
type Build[C Configured] func(ctx context.Context, cfg C, log *zap.Logger, s *Stack) error

// Main is a service's main: it loads the settings (exit 0 on --help, 2
// when invalid), builds the logger and tracing, runs the service until
// SIGINT or SIGTERM, and exits with Run's code after flushing logs and
// spans. It is the only place a service exits.
func Main[C Configured](name string, load func(args []string, out io.Writer) (C, error), build Build[C]) {
	os.Exit(main(name, os.Args[1:], os.Stderr, load, build))
}

func main[C Configured](name string, args []string, stderr io.Writer, load func([]string, io.Writer) (C, error), build Build[C]) int {
	cfg, err := load(args, stderr)
	if errors.Is(err, config.ErrHelp) {
		return ExitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: invalid configuration:\n%v\n", name, err)
		return ExitConfig
	}
	common := cfg.Common()
	logger, err := logging.New(name, common.Log)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return ExitConfig
	}
	defer func() { _ = logger.Sync() }()
	// The spans of a process's last moments are the ones worth reading:
	// they are flushed on every way out.
	stopTracing := tracing.Start(name, common.Tracing, logger)
	defer stopTracing()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, name, common.StopTimeout, logger, func(ctx context.Context, s *Stack) error {
		return build(ctx, cfg, logger, s)
	})
}

// Run starts a service with build, waits until ctx ends (a signal) or the
// service reports a fatal state, and stops it in reverse order within
// stopTimeout. It returns the process's exit code: ExitOK after a clean
// stop; when build fails, what it started is stopped and the code is
// ExitConfig for a system provisioned with other settings, else
// ExitFailed; ExitRestart on a fatal state (nothing is stopped: a wedged
// inference cannot be) or a stop that failed.
func Run(ctx context.Context, name string, stopTimeout time.Duration, logger *zap.Logger, build func(ctx context.Context, s *Stack) error) int {
	s := &Stack{}
	stopAll := func() error {
		stopCtx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		defer cancel()
		return s.Stop(stopCtx)
	}
	if err := build(ctx, s); err != nil {
		logger.Error(name+" failed to start", zap.Error(err))
		_ = stopAll()
		return startExitCode(err)
	}
	select {
	case <-ctx.Done():
	case err := <-s.failed():
		logger.Error(name+" cannot continue; exiting for a restart", zap.Error(err))
		return ExitRestart
	}
	logger.Info("shutting down", zap.Duration("stop_timeout", stopTimeout))
	if err := stopAll(); err != nil {
		logger.Error(name+" did not stop cleanly; exiting for a restart", zap.Error(err))
		return ExitRestart
	}
	return ExitOK
}

func startExitCode(err error) int {
	if bus.ExitCode(err) == 2 {
		return ExitConfig
	}
	return ExitFailed
}
