package leaderpass

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func TestForDefaultsTheClockAndNamesTheLogger(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	env := Deps{Logger: zap.New(core)}.For("sweep")
	require.WithinDuration(t, time.Now(), env.Now(), time.Minute)
	env.Logger.Info("hello")
	require.Equal(t, "sweep", logs.All()[0].LoggerName)

	at := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	env = Deps{Now: func() time.Time { return at }, Logger: zap.NewNop()}.For("sweep")
	require.Equal(t, at, env.Now())
}

func TestPassLogsAFailureUnlessItsContextEnded(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	env := Deps{Logger: zap.New(core)}.For("sweep")
	fail := func(context.Context) (int, error) { return 0, errors.New("boom") }

	env.Pass(context.Background(), "sweep jobs", fail)
	require.Equal(t, 1, logs.FilterMessage("sweep jobs").Len(), "a failed pass is logged")

	env.Pass(context.Background(), "sweep jobs", func(context.Context) (int, error) { return 3, nil })
	require.Equal(t, 1, logs.Len(), "a pass that worked logs nothing")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	env.Pass(ctx, "sweep jobs", fail)
	require.Equal(t, 1, logs.Len(), "a pass stopped by its context is no failure")
}
