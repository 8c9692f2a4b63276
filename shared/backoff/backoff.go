// Package backoff is the one exponential backoff of the pipeline: NAK
// delays for transient failures and recoveries, retries of requests that
// could not be queued, and waits for a dependency to come back.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Policy doubles Base with each attempt up to Max, and spreads each delay
// by ±Jitter (a fraction, e.g. 0.2) so that jobs failed by one outage do
// not all come back at the same instant.
type Policy struct {
	Base, Max time.Duration
	Jitter    float64
}

// Fixed is the policy of a fixed delay d between tries.
func Fixed(d time.Duration) Policy { return Policy{Base: d, Max: d} }

// Delay is the wait before retry number attempt (1 for the first retry).
func (p Policy) Delay(attempt int) time.Duration {
	d := p.Base
	for i := 1; i < attempt && d < p.Max; i++ {
		d *= 2
	}
	d = min(d, p.Max)
	if p.Jitter > 0 {
		d = time.Duration(float64(d) * (1 - p.Jitter + 2*p.Jitter*rand.Float64()))
	}
	return d
}
