package main

import (
	"context"
	"slices"
	"sync"
	"time"

	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
	"cyberimage/tools/internal/recordwatch"
)

// claim is one delivery's claim of a job: the write that moved the record
// to processing naming a new delivery, at the server's time of that write.
type claim struct {
	at        time.Time
	seq       uint64
	delivered int
	runner    string
	boot      string
}

// same says whether two claims are one delivery.
func (c claim) same(o claim) bool {
	return c.seq == o.seq && c.delivered == o.delivered && c.runner == o.runner && c.boot == o.boot
}

// history is what the record bucket said about one job, write by write.
type history struct {
	created     time.Time
	claims      []claim
	completions []claim // the delivery each completed write named
	status      job.Status
}

// processing reports whether the job is claimed now, and by which delivery.
func (h *history) processing() (claim, bool) {
	if h.status != job.StatusProcessing || len(h.claims) == 0 {
		return claim{}, false
	}
	return h.claims[len(h.claims)-1], true
}

// ledger follows every write to the record bucket from before the first
// job: claims and completions are read from the history of writes, with
// the NATS server's time of each, so "ran again" and "completed twice" are
// facts of the bucket, not of the harness's polling.
type ledger struct {
	watch *recordwatch.Watch

	mu   sync.Mutex
	jobs map[string]*history
	done []time.Time // every completed write, in watch order
}

// watchLedger starts the watch; the caller ends it with l.watch.Stop,
// which waits for its goroutine.
func watchLedger(ctx context.Context, store *jobstore.Store) (*ledger, error) {
	l := &ledger{jobs: map[string]*history{}}
	w, err := recordwatch.Start(ctx, store, l.take)
	if err != nil {
		return nil, err
	}
	l.watch = w
	return l, nil
}

// take adds one write of a record, stored by the server at at.
func (l *ledger) take(rec job.Record, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.jobs[rec.JobID]
	if h == nil {
		h = &history{created: at}
		l.jobs[rec.JobID] = h
	}
	h.status = rec.Status
	var named claim
	if d := rec.Delivery; d != nil {
		named = claim{at: at, seq: d.StreamSeq, delivered: d.Delivered, runner: d.Runner, boot: d.Boot}
	}
	switch rec.Status {
	case job.StatusProcessing:
		if rec.Delivery != nil && (len(h.claims) == 0 || !h.claims[len(h.claims)-1].same(named)) {
			h.claims = append(h.claims, named)
		}
	case job.StatusCompleted:
		h.completions = append(h.completions, named)
		l.done = append(l.done, at)
	}
}

// heldBy lists the jobs runner has claimed and not finished, by job id.
func (l *ledger) heldBy(runner string) map[string]claim {
	l.mu.Lock()
	defer l.mu.Unlock()
	held := map[string]claim{}
	for id, h := range l.jobs {
		if c, ok := h.processing(); ok && c.runner == runner {
			held[id] = c
		}
	}
	return held
}

// claimAfter is the first claim of id by a delivery later than c: the job
// running again.
func (l *ledger) claimAfter(id string, c claim) (claim, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.jobs[id]
	if h == nil {
		return claim{}, false
	}
	for _, n := range h.claims {
		if n.seq == c.seq && n.delivered > c.delivered {
			return n, true
		}
	}
	return claim{}, false
}

// completionsOf lists the deliveries that wrote id completed.
func (l *ledger) completionsOf(id string) []claim {
	l.mu.Lock()
	defer l.mu.Unlock()
	if h := l.jobs[id]; h != nil {
		return slices.Clone(h.completions)
	}
	return nil
}

// lastDone is the server time of the latest completed write seen.
func (l *ledger) lastDone() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	var last time.Time
	for _, t := range l.done {
		if t.After(last) {
			last = t
		}
	}
	return last
}

// ended reports whether the job's record is in an ended status.
func (l *ledger) ended(id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.jobs[id]
	return h != nil && h.status.Terminal()
}

// snapshot copies what the analysis reads: every job's history and the
// completion times, sorted.
func (l *ledger) snapshot() (map[string]history, []time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	jobs := make(map[string]history, len(l.jobs))
	for id, h := range l.jobs {
		jobs[id] = history{created: h.created, claims: slices.Clone(h.claims), completions: slices.Clone(h.completions), status: h.status}
	}
	done := slices.Clone(l.done)
	slices.SortFunc(done, time.Time.Compare)
	return jobs, done
}
