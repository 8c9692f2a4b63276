package worker

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/services/gpu-runner/internal/pipeline"
	"cyberimage/shared/job"
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

// panicky is a generator with a bug.
type panicky struct{}

func (panicky) Generate(context.Context, job.Spec, pipeline.Progress) ([]pipeline.Image, error) {
	var imgs []pipeline.Image
	_ = imgs[3] // index out of range, as a negative num_images once caused
	return imgs, nil
}

func (panicky) Close() error { return nil }

// TestGeneratorPanicFailsTheJob: a panic inside a model run becomes a
// permanent failure of that job, with the panic as its reason.
func TestGeneratorPanicFailsTheJob(t *testing.T) {
	t.Parallel()
	out, err := runGroup(context.Background(), panicky{}, []job.Spec{{}}, func(int, int) {})
	require.Nil(t, out)
	require.Error(t, err)
	require.True(t, isPermanent(err))
	require.Contains(t, err.Error(), "generator panicked")
	require.Contains(t, err.Error(), "index out of range")
}
