package main

import (
	"log"
	"sync"
	"sync/atomic"
	"time"

	"cyberimage/shared/job"
	"cyberimage/tools/internal/nearestrank"
)

// kind is one kind of message the emulated runners send, or of work they
// do, counted by the emulator.
type kind int

const (
	kindHeartbeat  kind = iota // heartbeat publish, one per runner every 2 s
	kindEvent                  // progress event publish (after coalescing)
	kindInProgress             // +WPI on a delivery's ack subject
	kindOwnerRead              // KV get before each in-progress ack (the fence)
	kindPull                   // pull request with a wait (a free slot, one per class)
	kindPullNow                // pull request without a wait (a free slot asking each class)
	kindPrefetch               // pull request without a wait (while running)
	kindClaim                  // KV compare-and-set: queued → processing
	kindComplete               // KV compare-and-set: processing → completed (fenced)
	kindAck                    // +ACK after completion
	kindNak                    // NAK: a claim that failed, or a hand-back
	kindPut                    // S3 PUT of one image
	kindOrder                  // order received from the supervisor
	kindError                  // an operation that failed (logged as counted)
	numKinds
)

var kindNames = [numKinds]string{"heartbeat", "event", "in_progress", "owner_read", "pull", "pull_nowait", "prefetch", "claim", "complete",
	"ack", "nak", "s3_put", "order_in", "error"}

// busKinds are the kinds that are messages runners send to NATS (each KV
// operation and pull is a request with a reply; the reply is not counted).
var busKinds = []kind{kindHeartbeat, kindEvent, kindInProgress, kindOwnerRead, kindPull, kindPullNow, kindPrefetch, kindClaim, kindComplete, kindAck, kindNak}

// claimSample is one claim: when the work was stored in the stream, when
// the claim's compare-and-set returned, and whether a slot was waiting in
// a pull when the work arrived (false: it was taken by a prefetch or a
// pull that began after it was stored).
type claimSample struct {
	JobID   string `json:"job_id"`
	StoreNS int64  `json:"store_ns"`
	ClaimNS int64  `json:"claim_ns"`
	Waiting bool   `json:"waiting"`
}

// emuStats is what an emulator process reports to the harness.
type emuStats struct {
	Ready   int              `json:"ready"`
	Running int64            `json:"running"` // claimed, not ended
	Held    int64            `json:"held"`    // running or prefetched
	Counts  map[string]int64 `json:"counts"`  // cumulative, by kind
	Claims  []claimSample    `json:"claims,omitempty"`
	// Completions are the times (unix ns) completion writes returned.
	Completions []int64 `json:"completions,omitempty"`
	// TickLagMS is how late a 100 ms ticker in the emulator woke, p99 and
	// max since the last take: past a few ms the emulator itself is short
	// of CPU, and its runners' timing is no longer the real protocol's.
	TickLagP99MS float64 `json:"tick_lag_p99_ms"`
	TickLagMaxMS float64 `json:"tick_lag_max_ms"`
}

// counters are the emulator's figures, shared by its runners.
type counters struct {
	n       [numKinds]atomic.Int64
	running atomic.Int64
	held    atomic.Int64
	ready   atomic.Int64

	mu          sync.Mutex
	claims      []claimSample
	completions []int64
	lags        []time.Duration
}

func (c *counters) add(k kind) { c.n[k].Add(1) }

// failed counts a failed operation and logs the first few, so a run that
// counts errors says which.
func (c *counters) failed(what string, err error) {
	if c.n[kindError].Add(1) <= 20 {
		log.Printf("%s: %v", what, err)
	}
}

func (c *counters) claimed(s claimSample) {
	c.mu.Lock()
	c.claims = append(c.claims, s)
	c.mu.Unlock()
}

func (c *counters) completed(at time.Time) {
	c.mu.Lock()
	c.completions = append(c.completions, at.UnixNano())
	c.mu.Unlock()
}

// watchLag measures how late a 100 ms sleep wakes, until stop closes.
func (c *counters) watchLag(stop <-chan struct{}) {
	const every = 100 * time.Millisecond
	for {
		began := time.Now()
		select {
		case <-stop:
			return
		case <-time.After(every):
		}
		lag := max(time.Since(began)-every, 0)
		c.mu.Lock()
		c.lags = append(c.lags, lag)
		c.mu.Unlock()
	}
}

// snapshot reports the figures; take also hands over (and forgets) the
// samples gathered since the last take.
func (c *counters) snapshot(take bool) emuStats {
	s := emuStats{Ready: int(c.ready.Load()), Running: c.running.Load(), Held: c.held.Load(), Counts: map[string]int64{}}
	for k := range numKinds {
		s.Counts[kindNames[k]] = c.n[k].Load()
	}
	if !take {
		return s
	}
	c.mu.Lock()
	s.Claims, s.Completions, c.claims, c.completions = c.claims, c.completions, nil, nil
	lags := c.lags
	c.lags = nil
	c.mu.Unlock()
	s.TickLagP99MS = job.Millis(nearestrank.Percentile(lags, 99))
	s.TickLagMaxMS = job.Millis(nearestrank.Percentile(lags, 100))
	return s
}
