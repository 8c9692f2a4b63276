package worker

import (
	"errors"
	"time"

	"cyberimage/services/gpu-runner/internal/pipeline"
	"cyberimage/shared/backoff"
)

// errStale: the record shows another attempt now owns the job (the
// supervisor or JetStream gave it to someone else). This delivery must
// neither ack nor write the record: its ack would land on the new delivery.
var errStale = errors.New("delivery is no longer the current attempt")

// errAlreadyDone: the record is terminal, so this is a redelivery of a job
// that ended (its ack was lost). Ack it and do nothing else.
var errAlreadyDone = errors.New("job already ended")

// errExpired: the job was not started by its deadline; the claim ended it
// (cancelled, deadline_exceeded) instead of starting it. Ack it: the job
// is over, and it never ran.
var errExpired = errors.New("not started by its deadline")

// errAbandoned: the supervisor ordered this runner to give the delivery up.
// It has already NAKed it and moved the record on; never ack it.
var errAbandoned = errors.New("abandoned on the supervisor's order")

// errCancelled: the job was cancelled; its record is terminal and its
// message removed. Never ack it.
var errCancelled = errors.New("cancelled")

// errHandBack: a prefetched job never started because the runner stops.
var errHandBack = errors.New("handed back unstarted")

// errEnded cancels a delivery's context once it has been dealt with.
var errEnded = errors.New("delivery ended")

// outcome tells the slot loop how a delivery ended, for what it does next.
type outcome int

const (
	outcomeDone      outcome = iota // acked, terminated or handed back
	outcomeTransient                // NAKed for a failing dependency
	outcomeTakenAway                // abandoned or stale: the job went elsewhere
)

// permanentError marks failures a retry cannot fix.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

func permanent(err error) error { return permanentError{err} }

// isPermanent: the model refused the input, the model cannot load, or the
// work message is unreadable. Everything else (S3, NATS) may pass.
func isPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p) || errors.Is(err, pipeline.ErrUnsupported)
}

// retryDelay backs off exponentially from base with ±20% jitter, so jobs
// failed by one outage do not all come back at the same instant.
func retryDelay(attempt int, base, ceiling time.Duration) time.Duration {
	return backoff.Policy{Base: base, Max: ceiling, Jitter: 0.2}.Delay(attempt)
}
