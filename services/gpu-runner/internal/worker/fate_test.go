package worker

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/services/gpu-runner/internal/pipeline"
)

func TestRetryDelayBacksOffWithJitter(t *testing.T) {
	t.Parallel()
	base, ceiling := time.Second, 10*time.Second
	for attempt, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 8 * time.Second, 5: 10 * time.Second, 9: 10 * time.Second} {
		seen := map[time.Duration]bool{}
		for range 50 {
			d := retryDelay(attempt, base, ceiling)
			require.GreaterOrEqual(t, d, want*8/10, "attempt %d", attempt)
			require.LessOrEqual(t, d, want*12/10, "attempt %d", attempt)
			seen[d] = true
		}
		require.Greater(t, len(seen), 1, "jitter spreads retries")
	}
}

func TestPermanentClassification(t *testing.T) {
	t.Parallel()
	require.True(t, isPermanent(permanent(errors.New("bad model"))))
	require.True(t, isPermanent(fmt.Errorf("wrap: %w", pipeline.ErrUnsupported)))
	require.False(t, isPermanent(errors.New("connection refused")))
	require.ErrorIs(t, fmt.Errorf("x: %w", errStale), errStale)
}
