package lifecycle

import (
	"context"
	"errors"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"cyberimage/shared/backoff"
)

// TestRetryWaitsThePolicysDelays: failed tries are retried after the
// backoff's delays, each told to OnRetry, until one succeeds.
func TestRetryWaitsThePolicysDelays(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		var at []time.Duration
		var told []int
		p := Policy{Backoff: backoff.Policy{Base: time.Second, Max: 4 * time.Second},
			OnRetry: func(attempt int, err error, wait time.Duration) { told = append(told, attempt) }}
		err := Retry(t.Context(), p, func(context.Context) error {
			at = append(at, time.Since(start))
			if len(at) < 5 {
				return errors.New("down")
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		want := []time.Duration{0, time.Second, 3 * time.Second, 7 * time.Second, 11 * time.Second}
		if len(at) != len(want) {
			t.Fatalf("tries at %v, want %v", at, want)
		}
		for i := range want {
			if at[i] != want[i] {
				t.Fatalf("tries at %v, want %v", at, want)
			}
		}
		if len(told) != 4 || told[0] != 1 || told[3] != 4 {
			t.Fatalf("OnRetry heard attempts %v, want 1..4", told)
		}
	})
}

// TestRetryStopsOnPermanentErrors: a Permanent error ends Retry at once
// with the error itself.
func TestRetryStopsOnPermanentErrors(t *testing.T) {
	bad := errors.New("settings differ")
	tries := 0
	err := Retry(t.Context(), Policy{Backoff: backoff.Fixed(time.Hour)}, func(context.Context) error {
		tries++
		return Permanent(bad)
	})
	if err != bad || tries != 1 {
		t.Fatalf("got %v after %d tries, want the permanent error after 1", err, tries)
	}
	if Permanent(nil) != nil {
		t.Fatal("Permanent(nil) must be nil")
	}
}

// TestRetryEndsWithItsContext: a cancelled context ends the wait between
// tries, and Retry returns the context's error.
func TestRetryEndsWithItsContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
		defer cancel()
		tries := 0
		err := Retry(ctx, Policy{Backoff: backoff.Fixed(time.Minute)}, func(context.Context) error {
			tries++
			return errors.New("down")
		})
		if !errors.Is(err, context.DeadlineExceeded) || tries != 2 {
			t.Fatalf("got %v after %d tries, want the deadline after 2", err, tries)
		}
	})
}

// TestRetryBoundsEachTry: TryTimeout gives each try its own deadline, so
// a try that would block is given up and retried.
func TestRetryBoundsEachTry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tries := 0
		err := Retry(t.Context(), Policy{Backoff: backoff.Fixed(time.Second), TryTimeout: 5 * time.Second}, func(ctx context.Context) error {
			tries++
			if tries == 1 {
				<-ctx.Done() // a server that never answers
				return ctx.Err()
			}
			return nil
		})
		if err != nil || tries != 2 {
			t.Fatalf("got %v after %d tries, want success on the second", err, tries)
		}
	})
}

// TestRetryStartsOverAfterProgress: a try that fails after making
// progress is counted as the first again, so the next wait is the
// policy's first delay, not the longest.
func TestRetryStartsOverAfterProgress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		var at []time.Duration
		fails := []error{errors.New("down"), errors.New("down"), Progressed(errors.New("ended after a while")), errors.New("down")}
		err := Retry(t.Context(), Policy{Backoff: backoff.Policy{Base: time.Second, Max: 8 * time.Second}}, func(context.Context) error {
			at = append(at, time.Since(start))
			if len(at) > len(fails) {
				return nil
			}
			return fails[len(at)-1]
		})
		// Waits of 1 s and 2 s, then 1 s and 2 s again after the progress.
		want := []time.Duration{0, time.Second, 3 * time.Second, 4 * time.Second, 6 * time.Second}
		if err != nil || !slices.Equal(at, want) {
			t.Fatalf("got %v with tries at %v, want success with tries at %v", err, at, want)
		}
		if Progressed(nil) != nil {
			t.Fatal("Progressed(nil) must be nil")
		}
	})
}
