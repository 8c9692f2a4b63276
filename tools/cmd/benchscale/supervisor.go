package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"time"

	"cyberimage/shared/job"
	"cyberimage/tools/internal/benchstack"
)

// supervisorRun starts supervisors against the bench's bus, each with the
// supervisor's own credentials.
type supervisorRun struct {
	procs          *benchstack.Procs
	bin            string
	natsURL, creds string
	modelsDir      string
	queries        int
}

// latency is a sample of request times.
type latency struct{ p50, p99 time.Duration }

// row is one size's measurements.
type row struct {
	n int
	// The first start after the records were written catches up with
	// them (from the previous size's snapshot, or from nothing at the
	// first size): its time to ready and its peak memory.
	catchUp     time.Duration
	catchUpPeak float64
	// The restart that follows (the first stopped cleanly, saving its
	// view): what an operator's restart costs with n records in history.
	rssMB, peakMB float64
	ready         time.Duration
	queue, status latency
}

// running is a supervisor process started by the bench.
type running struct {
	p    *benchstack.Proc
	base string
}

// start runs a supervisor and waits until it is ready.
func (s supervisorRun) start(ctx context.Context, name string) (*running, time.Duration, error) {
	addr, err := benchstack.LoopbackAddr()
	if err != nil {
		return nil, 0, err
	}
	env := []string{"CYBERIMAGE_DEV=true", "CYBERIMAGE_NATS_URL=" + s.natsURL, "CYBERIMAGE_NATS_CREDS=" + s.creds,
		// The figures are the index's, not an archive run's: no S3 here.
		"CYBERIMAGE_ARCHIVE=false", "CYBERIMAGE_S3_ENDPOINT=127.0.0.1:1",
		"CYBERIMAGE_SUPERVISOR_ADDR=" + addr, "CYBERIMAGE_MODELS_DIR=" + s.modelsDir, "CYBERIMAGE_LOG_LEVEL=warn"}
	began := time.Now()
	p, err := s.procs.Start(name, s.bin, nil, env)
	if err != nil {
		return nil, 0, err
	}
	r := &running{p: p, base: "http://" + addr}
	if err := benchstack.PollHTTP(ctx, p, r.base+"/readyz", 10*time.Minute, 5*time.Millisecond); err != nil {
		r.stop()
		return nil, 0, err
	}
	return r, time.Since(began), nil
}

// stop ends the supervisor as an operator would (SIGTERM: it saves its
// view on the way out).
func (r *running) stop() { r.p.Stop(20 * time.Second) }

// measure starts a supervisor on a bucket of n records and lets it catch
// up, stops it, then restarts it and times that restart to ready, queries
// it and reads its memory. Each start must count the n records by status
// as they were written.
func (s supervisorRun) measure(ctx context.Context, n int) (row, error) {
	r := row{n: n}
	client := &http.Client{Timeout: 30 * time.Second}
	first, took, err := s.start(ctx, fmt.Sprintf("supervisor-%d-first", n))
	if err != nil {
		return r, err
	}
	r.catchUp = took
	_, r.catchUpPeak = benchstack.ProcRSS(first.p.PID())
	err = checkCounts(client, first.base, n)
	first.stop()
	if err != nil {
		return r, fmt.Errorf("catch-up start: %w", err)
	}
	p, took, err := s.start(ctx, fmt.Sprintf("supervisor-%d", n))
	if err != nil {
		return r, err
	}
	defer p.stop()
	r.ready = took
	if err := checkCounts(client, p.base, n); err != nil {
		return r, fmt.Errorf("restart: %w", err)
	}
	if r.queue, err = s.sample(client, p.base+"/api/queue"); err != nil {
		return r, err
	}
	if r.status, err = s.sample(client, p.base+"/status"); err != nil {
		return r, err
	}
	r.rssMB, r.peakMB = benchstack.ProcRSS(p.p.PID())
	return r, nil
}

// wantCounts is /api/queue's answer for the first n records written: a
// count by status and the total, which leaves rejected requests out (they
// never became jobs).
func wantCounts(n int) map[string]int {
	c := map[string]int{"pending": 0, "processing": 0, "completed": 0, "failed": 0, "rejected": 0, "cancelled": 0, "total": 0}
	for i := range n {
		status := sampleStatus(i)
		c[string(status)]++
		if status != job.StatusRejected {
			c["total"]++
		}
	}
	return c
}

// checkCounts asks a ready supervisor for its counts: ready means caught
// up, so they are the n records' to the job.
func checkCounts(client *http.Client, base string, n int) error {
	resp, err := client.Get(base + "/api/queue")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var got map[string]int
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/api/queue: %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		return fmt.Errorf("/api/queue: %w", err)
	}
	if want := wantCounts(n); !maps.Equal(got, want) {
		return fmt.Errorf("ready, but /api/queue counts %v, want %v", got, want)
	}
	return nil
}

// sample times requests to url: s.queries of them, or as many as fit in
// half a minute (at least ten) when each is slow, so a large N whose
// requests take a second each does not take hours.
func (s supervisorRun) sample(client *http.Client, url string) (latency, error) {
	times := make([]time.Duration, 0, s.queries)
	began := time.Now()
	for i := range s.queries {
		if i >= 10 && time.Since(began) > 30*time.Second {
			break
		}
		start := time.Now()
		if err := get(client, url); err != nil {
			return latency{}, err
		}
		times = append(times, time.Since(start))
	}
	slices.Sort(times)
	return latency{p50: times[len(times)/2], p99: times[len(times)*99/100]}, nil
}

func get(client *http.Client, url string) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}
