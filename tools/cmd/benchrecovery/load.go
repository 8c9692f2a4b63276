package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
)

// load submits jobs as a client would: request-reply under the client
// identity's inbox, with a request_id, sent again until ingest answers (a
// request in flight to a node that hangs gets no answer; the request_id
// makes resending safe). Each request has its own goroutine, so a hung
// node delays those requests, not the ones after them.
type load struct {
	nc                  *nats.Conn // the client role's connection
	run                 string     // request_id prefix, unique per run
	size, steps, images int

	wg         sync.WaitGroup
	mu         sync.Mutex
	next       int
	accepted   []string // job ids ingest answered for
	unanswered int
}

// submit sends one request and returns its job id once ingest answered,
// trying for up to two minutes.
func (l *load) submit(ctx context.Context) (string, bool) {
	l.mu.Lock()
	n := l.next
	l.next++
	l.mu.Unlock()
	requestID := fmt.Sprintf("%s-%d", l.run, n)
	payload := fmt.Sprintf(`{"prompt":"recovery %d","width":%d,"height":%d,"steps":%d,"num_images":%d,"request_id":%q}`,
		n, l.size, l.size, l.steps, l.images, requestID)
	for attempt := 0; attempt < 60 && ctx.Err() == nil; attempt++ {
		msg, err := l.nc.Request(bus.SubjectRequests, []byte(payload), 2*time.Second)
		if err != nil {
			continue
		}
		var r struct {
			JobID string `json:"job_id"`
		}
		if json.Unmarshal(msg.Data, &r) == nil && r.JobID == job.IDForRequestID(requestID) {
			l.mu.Lock()
			l.accepted = append(l.accepted, r.JobID)
			l.mu.Unlock()
			return r.JobID, true
		}
	}
	l.mu.Lock()
	l.unanswered++
	l.mu.Unlock()
	return "", false
}

// steady submits rate jobs a second, at intervals jittered by ±20% (a
// regular pace: a pause in completions then comes from the pipeline, not
// from a lull in arrivals), until stop closes or ctx ends; the requests
// still in flight then go on (wait for them with l.wg).
func (l *load) steady(ctx context.Context, stop <-chan struct{}, rate float64, rng *rand.Rand) {
	interval := time.Duration(float64(time.Second) / rate)
	for {
		d := time.Duration(float64(interval) * (0.8 + 0.4*rng.Float64()))
		select {
		case <-ctx.Done():
			return
		case <-stop:
			return
		case <-time.After(d):
		}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			l.submit(ctx)
		}()
	}
}

// jobs lists the accepted job ids and how many requests were never
// answered.
func (l *load) jobs() ([]string, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.accepted...), l.unanswered
}
