package service

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"cyberimage/shared/bus"
	"cyberimage/shared/config"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorder notes the order components start and stop in.
type recorder struct{ events []string }

func (r *recorder) component(name string, startErr, stopErr error) Component {
	return Hooks{
		OnStart: func(context.Context) error { r.events = append(r.events, "start "+name); return startErr },
		OnStop:  func(context.Context) error { r.events = append(r.events, "stop "+name); return stopErr },
	}
}

func observed() (*zap.Logger, *observer.ObservedLogs) {
	core, logs := observer.New(zap.InfoLevel)
	return zap.New(core), logs
}

// TestRunStartsInOrderAndStopsInReverse: on a signal every component stops,
// the last started first, and the process exits 0.
func TestRunStartsInOrderAndStopsInReverse(t *testing.T) {
	var r recorder
	ctx, cancel := context.WithCancel(t.Context())
	log, logs := observed()
	code := Run(ctx, "svc", time.Second, log, func(ctx context.Context, s *Stack) error {
		if err := s.Start(ctx, r.component("bus", nil, nil)); err != nil {
			return err
		}
		err := s.Start(ctx, r.component("worker", nil, nil), r.component("http", nil, nil))
		cancel() // the signal
		return err
	})
	require.Equal(t, ExitOK, code)
	require.Equal(t, []string{"start bus", "start worker", "start http", "stop http", "stop worker", "stop bus"}, r.events)
	require.Equal(t, 1, logs.FilterMessage("shutting down").Len())
}

// TestRunStopsWhatStartedWhenAStartFails: a component that fails to start
// ends the start; those started before it are stopped in reverse, the one
// that failed and those after it are not, and the exit code says why.
func TestRunStopsWhatStartedWhenAStartFails(t *testing.T) {
	for name, tc := range map[string]struct {
		err  error
		code int
	}{
		"a failure":              {errors.New("no such file"), ExitFailed},
		"settings that differ":   {fmt.Errorf("verify: %w", bus.ErrSettingsDiffer), ExitConfig},
		"a signal while waiting": {context.Canceled, ExitFailed},
	} {
		t.Run(name, func(t *testing.T) {
			var r recorder
			log, logs := observed()
			code := Run(t.Context(), "svc", time.Second, log, func(ctx context.Context, s *Stack) error {
				return s.Start(ctx, r.component("a", nil, nil), r.component("b", nil, nil), r.component("c", tc.err, nil), r.component("d", nil, nil))
			})
			require.Equal(t, tc.code, code)
			require.Equal(t, []string{"start a", "start b", "start c", "stop b", "stop a"}, r.events)
			require.Equal(t, 1, logs.FilterMessage("svc failed to start").Len())
		})
	}
}

// TestRunExitsForARestartOnAFatalState: a fatal state ends the process at
// once with ExitRestart, stopping nothing (a wedged inference would hold
// the stop).
func TestRunExitsForARestartOnAFatalState(t *testing.T) {
	var r recorder
	fatal := make(chan error, 1)
	log, logs := observed()
	code := Run(t.Context(), "svc", time.Second, log, func(ctx context.Context, s *Stack) error {
		s.Fatal(fatal)
		fatal <- errors.New("inference wedged")
		return s.Start(ctx, r.component("worker", nil, nil))
	})
	require.Equal(t, ExitRestart, code)
	require.Equal(t, []string{"start worker"}, r.events)
	require.Equal(t, 1, logs.FilterMessage("svc cannot continue; exiting for a restart").Len())
}

// TestRunExitsForARestartWhenAStopFails: every component is still asked
// to stop, and the process exits ExitRestart.
func TestRunExitsForARestartWhenAStopFails(t *testing.T) {
	var r recorder
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	log, logs := observed()
	code := Run(ctx, "svc", time.Second, log, func(ctx context.Context, s *Stack) error {
		return s.Start(ctx, r.component("bus", nil, nil), r.component("worker", nil, errors.New("inference outlived the stop timeout")))
	})
	require.Equal(t, ExitRestart, code)
	require.Equal(t, []string{"start bus", "start worker", "stop worker", "stop bus"}, r.events)
	require.Equal(t, 1, logs.FilterMessage("svc did not stop cleanly; exiting for a restart").Len())
}

// TestStopGivesTheDeadline: components stop with a context bounded by the
// stop timeout, and a second Stop does nothing.
func TestStopGivesTheDeadline(t *testing.T) {
	var s Stack
	stops := 0
	require.NoError(t, s.Start(t.Context(), Hooks{OnStop: func(ctx context.Context) error {
		stops++
		_, ok := ctx.Deadline()
		require.True(t, ok)
		return nil
	}}))
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	require.NoError(t, s.Stop(ctx))
	require.NoError(t, s.Stop(ctx))
	require.Equal(t, 1, stops)
}

// TestMainLoadsSettings: --help exits 0 and invalid settings exit 2 with
// the message, before anything starts.
func TestMainLoadsSettings(t *testing.T) {
	var out bytes.Buffer
	built := false
	build := func(context.Context, Settings, *zap.Logger, *Stack) error { built = true; return nil }
	help := func([]string, io.Writer) (Settings, error) { return Settings{}, config.ErrHelp }
	require.Equal(t, ExitOK, main("svc", nil, &out, help, build))
	bad := func([]string, io.Writer) (Settings, error) {
		return Settings{}, errors.New("CYBERIMAGE_SLOTS=\"many\": not an integer")
	}
	require.Equal(t, ExitConfig, main("svc", nil, &out, bad, build))
	require.Contains(t, out.String(), "svc: invalid configuration:\nCYBERIMAGE_SLOTS")
	require.False(t, built)
}
