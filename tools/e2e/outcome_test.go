package e2e

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/job"
)

// outcome is how the jobs of a chaos test ended.
type outcome struct{ lost, duplicated, failed, redelivered int }

func (o outcome) String() string {
	return fmt.Sprintf("lost %d, duplicated %d, failed %d, redelivered %d", o.lost, o.duplicated, o.failed, o.redelivered)
}

// requireNoneLost fails the test unless every job completed exactly once.
func (o outcome) requireNoneLost(t *testing.T) {
	t.Helper()
	require.Zero(t, o.lost, "jobs lost")
	require.Zero(t, o.duplicated, "jobs written completed more than once")
	require.Zero(t, o.failed, "jobs failed")
}

// tally counts how the jobs a chaos test submitted with request ids
// <prefix>-0 to <prefix>-(n-1) ended, naming each failed or duplicated one,
// and hands every completed one to check (nil: none).
func tally(t *testing.T, s *stack, recs map[string]job.Record, prefix string, n int, check func(job.Record)) outcome {
	t.Helper()
	var o outcome
	for i := range n {
		id := job.IDForRequestID(fmt.Sprintf("%s-%d", prefix, i))
		rec, ok := recs[id]
		switch {
		case !ok:
			o.lost++
			continue
		case rec.Status != job.StatusCompleted:
			o.failed++
			t.Errorf("job %s ended %s: %+v", id, rec.Status, rec.Error)
			continue
		}
		if c := s.completions.of(id); c != 1 {
			o.duplicated++
			t.Errorf("job %s written completed %d times", id, c)
		}
		if rec.Attempts > 1 {
			o.redelivered++
		}
		if check != nil {
			check(rec)
		}
	}
	return o
}
