package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
)

// feeder submits jobs through ingest as clients do (request-reply under
// the client role's credentials, each with a request_id), at a steady rate
// the harness sets per step, with intervals jittered by ±20%. Each request
// has its own goroutine. Once a second a submission is also watched on
// the supervisor's /v1/events?job_id= stream, opened before the request
// (job ids follow from request ids), to time the first event the console
// would see.
type feeder struct {
	nc     *nats.Conn // the client role's
	steps  int
	events string // the leader's /v1/events URL
	rate   atomic.Uint64

	wg       sync.WaitGroup
	mu       sync.Mutex
	next     int
	answered int
	failed   int
	seen     map[string]time.Time // sampled job → first event seen on /v1/events
}

func (f *feeder) setRate(perSecond float64) { f.rate.Store(math.Float64bits(perSecond)) }

// run submits until ctx ends.
func (f *feeder) run(ctx context.Context, rng *rand.Rand) {
	lastSample := time.Now()
	for ctx.Err() == nil {
		rate := math.Float64frombits(f.rate.Load())
		if rate <= 0 {
			sleepCtx(ctx, 100*time.Millisecond)
			continue
		}
		sleepCtx(ctx, time.Duration(float64(time.Second)/rate*(0.8+0.4*rng.Float64())))
		shape := drawJob(rng)
		f.mu.Lock()
		n := f.next
		f.next++
		f.mu.Unlock()
		sample := time.Since(lastSample) >= time.Second
		if sample {
			lastSample = time.Now()
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			f.submit(ctx, n, shape, sample)
		}()
	}
}

// submit sends request n (watching its events first when sampled).
func (f *feeder) submit(ctx context.Context, n int, shape jobShape, sample bool) {
	requestID := fmt.Sprintf("fleet-%d", n)
	jobID := job.IDForRequestID(requestID)
	var first chan time.Time
	if sample {
		var err error
		if first, err = f.watch(ctx, jobID); err != nil {
			first = nil
		}
	}
	payload := fmt.Sprintf(`{"prompt":%q,"width":64,"height":64,"steps":%d,"num_images":%d,"request_id":%q}`,
		shapePrompt(shape), f.steps, shape.images, requestID)
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	msg, err := f.nc.RequestWithContext(rctx, bus.SubjectRequests, []byte(payload))
	cancel()
	var r struct {
		JobID string `json:"job_id"`
	}
	ok := err == nil && json.Unmarshal(msg.Data, &r) == nil && r.JobID == jobID
	f.mu.Lock()
	if ok {
		f.answered++
	} else {
		f.failed++
	}
	f.mu.Unlock()
	if first == nil || !ok {
		return
	}
	select {
	case t, got := <-first:
		if got {
			f.mu.Lock()
			f.seen[jobID] = t
			f.mu.Unlock()
		}
	case <-ctx.Done():
	}
}

// watch opens the job's event stream and returns a channel that gets the
// moment its first event arrives (closed without one after two minutes).
func (f *feeder) watch(ctx context.Context, jobID string) (chan time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.events+"?job_id="+jobID, nil)
	if err != nil {
		cancel()
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("events: %s", resp.Status)
	}
	out := make(chan time.Time, 1)
	go func() {
		defer cancel()
		defer resp.Body.Close()
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "data:") {
				out <- time.Now()
				return
			}
		}
	}()
	return out, nil
}

// firstEvents hands over the sampled jobs' first-event times gathered so
// far, and the requests answered and failed.
func (f *feeder) firstEvents() (seen map[string]time.Time, answered, failed int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	seen, f.seen = f.seen, map[string]time.Time{}
	return seen, f.answered, f.failed
}
