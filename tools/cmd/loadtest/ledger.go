package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
)

// ledger follows every job record of this run through a watch on the KV
// bucket started before the first request, so "exactly once" is judged on
// the history of writes, not on the final state alone. Records of other
// clients (request_id without the run prefix) are ignored.
type ledger struct {
	prefix string
	w      jetstream.KeyWatcher
	cancel context.CancelFunc
	done   chan struct{}

	mu   sync.Mutex
	jobs map[string]*history
}

// history is what the ledger saw of one job.
type history struct {
	last job.Record
	// completions counts writes with status completed: exactly one is the
	// promise.
	completions int
	// deliveries maps each delivery token seen on the record to its start.
	deliveries map[string]time.Time
}

func startLedger(kv jetstream.KeyValue, prefix string) (*ledger, error) {
	ctx, cancel := context.WithCancel(context.Background())
	// UpdatesOnly: the bucket may hold thousands of older records, and
	// this run's keys do not exist yet.
	w, err := kv.WatchAll(ctx, jetstream.UpdatesOnly())
	if err != nil {
		cancel()
		return nil, fmt.Errorf("watch job records: %w", err)
	}
	l := &ledger{prefix: prefix, w: w, cancel: cancel, done: make(chan struct{}), jobs: map[string]*history{}}
	go l.follow()
	return l, nil
}

func (l *ledger) follow() {
	defer close(l.done)
	for e := range l.w.Updates() {
		if e == nil || e.Operation() != jetstream.KeyValuePut {
			continue
		}
		rec, err := jobstore.Decode(e.Value())
		if err != nil || !strings.HasPrefix(rec.Spec.RequestID, l.prefix) {
			continue
		}
		l.mu.Lock()
		h := l.jobs[rec.JobID]
		if h == nil {
			h = &history{deliveries: map[string]time.Time{}}
			l.jobs[rec.JobID] = h
		}
		h.last = rec
		if rec.Status == job.StatusCompleted {
			h.completions++
		}
		if rec.Delivery != nil {
			if _, ok := h.deliveries[rec.Delivery.Token()]; !ok {
				h.deliveries[rec.Delivery.Token()] = rec.Delivery.StartedAt
			}
		}
		l.mu.Unlock()
	}
}

// stop ends the watch and waits for its goroutine.
func (l *ledger) stop() {
	l.cancel()
	_ = l.w.Stop()
	<-l.done
}

// get returns a copy of what the ledger saw of a job.
func (l *ledger) get(id string) (history, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h, ok := l.jobs[id]
	if !ok {
		return history{}, false
	}
	c := *h
	c.deliveries = make(map[string]time.Time, len(h.deliveries))
	for k, v := range h.deliveries {
		c.deliveries[k] = v
	}
	return c, true
}

// withPrefix lists the jobs whose request_id starts with prefix.
func (l *ledger) withPrefix(prefix string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var ids []string
	for id, h := range l.jobs {
		if strings.HasPrefix(h.last.Spec.RequestID, prefix) {
			ids = append(ids, id)
		}
	}
	return ids
}

// tally counts jobs by status; ids with no record yet count as "unseen".
func (l *ledger) tally(ids []string) (counts map[string]int, ended int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	counts = map[string]int{}
	for _, id := range ids {
		h, ok := l.jobs[id]
		if !ok {
			counts["unseen"]++
			continue
		}
		counts[string(h.last.Status)]++
		if h.last.Status.Terminal() {
			ended++
		}
	}
	return counts, ended
}

// progressEvery is how often waitEnded prints a progress line.
const progressEvery = 5 * time.Second

// waitEnded waits until every job is terminal or ctx ends, printing counts
// as it goes; it reports whether all ended.
func (l *ledger) waitEnded(ctx context.Context, ids []string, rep *report, stage string) bool {
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	last := time.Now()
	for {
		counts, ended := l.tally(ids)
		if ended == len(ids) {
			return true
		}
		if time.Since(last) >= progressEvery {
			last = time.Now()
			rep.progress(stage, "%d/%d ended %s", ended, len(ids), formatCounts(counts))
		}
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
	}
}

// formatCounts prints status counts in lifecycle order.
func formatCounts(counts map[string]int) string {
	var parts []string
	for _, s := range []string{"unseen", "queued", "processing", "completed", "failed", "rejected", "cancelled"} {
		if n := counts[s]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", s, n))
		}
	}
	return "(" + strings.Join(parts, ", ") + ")"
}
