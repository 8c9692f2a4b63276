package main

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"cyberimage/shared/job"
	"cyberimage/tools/internal/nearestrank"
)

// settleLimit bounds the checks that wait for the rest of the stack to
// catch up once every job has ended: the last ack, the supervisor's index.
const settleLimit = 15 * time.Second

// lookups is how many completed jobs are fetched through /v1/jobs/{id}.
const lookups = 3

// batch is a set of ordinary jobs published by one test and judged
// together: load publishes one, chaos another among its disturbances.
type batch struct {
	stage   string
	want    map[string]int // job id → num_images requested
	order   []string       // job ids in publishing order
	started time.Time
	before  queueCounts
	// Set by wait.
	ended   bool
	endedAt time.Time
}

// newBatch reads the baseline queue counts, then starts the clock.
func (h *harness) newBatch(ctx context.Context, stage string) *batch {
	b := &batch{stage: stage, want: map[string]int{}}
	q, err := h.sup.queue(ctx)
	if err != nil {
		h.rep.progress(stage, "baseline /api/queue: %v", err)
	}
	b.before = q
	b.started = time.Now()
	return b
}

// add registers a request of the batch before it is published, so its
// progress events are kept from the first one.
func (h *harness) add(b *batch, r request) {
	id := r.jobID()
	if _, dup := b.want[id]; !dup {
		b.order = append(b.order, id)
	}
	b.want[id] = r.NumImages
	h.events.expect(id)
}

// wait waits for every job of the batch to end, within ctx.
func (h *harness) wait(ctx context.Context, b *batch) {
	b.ended = h.ledger.waitEnded(ctx, b.order, h.rep, b.stage)
	b.endedAt = time.Now()
	counts, ended := h.ledger.tally(b.order)
	if b.ended {
		h.rep.check(b.stage+": jobs ended", true, "%d/%d ended within --timeout, in %s", ended, len(b.order), b.endedAt.Sub(b.started).Round(10*time.Millisecond))
		return
	}
	h.rep.check(b.stage+": jobs ended", false, "%d/%d ended after %s %s", ended, len(b.order), h.opts.timeout, formatCounts(counts))
}

// judge runs the checks every batch must pass and records its figures.
func (h *harness) judge(ctx context.Context, b *batch) {
	var completed, failed, wrongImages, notOnce []string
	var latencies []time.Duration
	var retried int
	for _, id := range b.order {
		hist, ok := h.ledger.get(id)
		rec := hist.last
		switch {
		case !ok:
		case rec.Status == job.StatusCompleted:
			completed = append(completed, id)
			if rec.CompletedAt != nil {
				latencies = append(latencies, rec.CompletedAt.Sub(rec.CreatedAt))
			}
			if len(rec.Images) != b.want[id] || rec.Spec.NumImages != b.want[id] {
				wrongImages = append(wrongImages, fmt.Sprintf("%s has %d of %d", id, len(rec.Images), b.want[id]))
			}
		case rec.Status == job.StatusFailed:
			reason := "no reason"
			if rec.Error != nil {
				reason = rec.Error.Error()
			}
			failed = append(failed, id+": "+reason)
		}
		if ok && rec.Attempts > 1 {
			retried++
		}
		if hist.completions != 1 {
			notOnce = append(notOnce, fmt.Sprintf("%s written completed %d times", id, hist.completions))
		}
	}
	n := len(b.order)
	h.rep.check(b.stage+": all completed", len(completed) == n, "%d/%d completed, %d failed%s", len(completed), n, len(failed), sample(failed))
	h.rep.check(b.stage+": completed exactly once", len(notOnce) == 0, "%d/%d written completed exactly once%s", n-len(notOnce), n, sample(notOnce))
	h.rep.check(b.stage+": images = num_images", len(wrongImages) == 0 && len(completed) > 0,
		"%d/%d completed jobs have all their images%s", len(completed)-len(wrongImages), len(completed), sample(wrongImages))

	// The rest waits for the stack to settle only when the jobs ended:
	// otherwise the run is already failed and should end promptly.
	settle := settleLimit
	if !b.ended {
		settle = 0
	}
	ok, detail := eventually(ctx, settle, func(ctx context.Context) (bool, string) {
		msgs, err := h.jobsInStream(ctx)
		if err != nil {
			return false, err.Error()
		}
		return msgs == 0, fmt.Sprintf("%d messages left in the work queue", msgs)
	})
	h.rep.check(b.stage+": JOBS stream drained", ok, "%s", detail)

	ok, detail = eventually(ctx, settle, func(ctx context.Context) (bool, string) {
		q, err := h.sup.queue(ctx)
		if err != nil {
			return false, err.Error()
		}
		gotCompleted, gotTotal := q.Completed-b.before.Completed, q.Total-b.before.Total
		return gotCompleted >= n && gotTotal >= n,
			fmt.Sprintf("completed +%d, total +%d since the start (want ≥ %d)", gotCompleted, gotTotal, n)
	})
	h.rep.check(b.stage+": /api/queue counts", ok, "%s", detail)

	h.checkLookups(ctx, b, completed)

	if elapsed := b.endedAt.Sub(b.started); len(completed) > 0 && elapsed > 0 {
		h.rep.figure(b.stage+": throughput", "%.2f jobs/s (%d jobs in %s)", float64(len(completed))/elapsed.Seconds(), len(completed), elapsed.Round(10*time.Millisecond))
	}
	if len(latencies) > 0 {
		h.rep.figure(b.stage+": latency p50 / p95 / p99", "%s / %s / %s (created → completed)",
			roundDur(nearestrank.Percentile(latencies, 50)), roundDur(nearestrank.Percentile(latencies, 95)), roundDur(nearestrank.Percentile(latencies, 99)))
	}
	h.rep.figure(b.stage+": jobs with attempts > 1", "%d of %d", retried, n)
	events, withEvents := h.events.seen(b.order)
	h.rep.figure(b.stage+": progress events", "%d, for %d of %d jobs", events, withEvents, n)
}

// checkLookups fetches a few completed jobs through the supervisor.
func (h *harness) checkLookups(ctx context.Context, b *batch, completed []string) {
	if len(completed) == 0 {
		h.rep.check(b.stage+": /v1/jobs lookups", false, "no completed job to look up")
		return
	}
	var bad []string
	picked := pick(completed, lookups)
	for _, id := range picked {
		v, code, err := h.sup.job(ctx, id)
		switch {
		case err != nil:
			bad = append(bad, err.Error())
		case code != http.StatusOK:
			bad = append(bad, fmt.Sprintf("%s: status %d", id, code))
		case v.Status != string(job.StatusCompleted) || len(v.ImageURLs) != b.want[id]:
			bad = append(bad, fmt.Sprintf("%s: %s with %d image URLs, want completed with %d", id, v.Status, len(v.ImageURLs), b.want[id]))
		}
	}
	h.rep.check(b.stage+": /v1/jobs lookups", len(bad) == 0, "%d/%d looked up completed with every image URL%s", len(picked)-len(bad), len(picked), sample(bad))
}

// pick returns up to n ids spread over the list: first, last, middle.
func pick(ids []string, n int) []string {
	if len(ids) <= n {
		return ids
	}
	out := []string{ids[0], ids[len(ids)-1]}
	for i := 1; len(out) < n; i++ {
		out = append(out, ids[i*len(ids)/n])
	}
	return out
}

// sample shows the first few problems of a list.
func sample(problems []string) string {
	if len(problems) == 0 {
		return ""
	}
	sorted := append([]string(nil), problems...)
	sort.Strings(sorted)
	const show = 3
	more := ""
	if len(sorted) > show {
		more = fmt.Sprintf("; and %d more", len(sorted)-show)
		sorted = sorted[:show]
	}
	return ": " + strings.Join(sorted, "; ") + more
}
