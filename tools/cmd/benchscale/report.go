package main

import (
	"fmt"
	"io"

	"cyberimage/shared/job"
)

// Targets of the issue "history at constant cost", at 1,000,000 records.
const (
	targetRSSMB   = 64
	targetReadyS  = 2
	targetP50MS   = 2
	targetGrowthX = 1.5 // each figure within this factor of its value at N = 10k
)

func report(w io.Writer, rows []row, recordBytes int, o options) {
	fmt.Fprintf(w, "\n## Supervisor cost against history (bench-scale)\n\n")
	fmt.Fprintf(w, "Records of %d bytes in KV bucket cyberimage_jobs (all ended: completed, failed, rejected, cancelled), added between sizes. "+
		"At each size a supervisor starts and catches up with the records added (from the previous size's snapshot; from nothing at the first size), "+
		"stops cleanly, and is restarted: the restart is measured, %d requests per endpoint.\n\n", recordBytes, o.queries)
	fmt.Fprintf(w, "| records | catch-up start s | its peak RSS MB | restart to ready s | RSS MB | peak RSS MB | /api/queue p50 ms | p99 ms | /status p50 ms | p99 ms |\n")
	fmt.Fprintf(w, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		fmt.Fprintf(w, "| %d | %.2f | %.1f | %.2f | %.1f | %.1f | %.2f | %.2f | %.2f | %.2f |\n", r.n, r.catchUp.Seconds(), r.catchUpPeak,
			r.ready.Seconds(), r.rssMB, r.peakMB, job.Millis(r.queue.p50), job.Millis(r.queue.p99), job.Millis(r.status.p50), job.Millis(r.status.p99))
	}
	var ref, last *row
	for i := range rows {
		if rows[i].n == 10000 {
			ref = &rows[i]
		}
		last = &rows[i]
	}
	if last == nil || last.n == 0 {
		return
	}
	fmt.Fprintf(w, "\nTargets at %d records (the issue sets them at 1,000,000):\n\n", last.n)
	fmt.Fprintf(w, "| measure | value | target | |\n|---|---:|---:|---|\n")
	check := func(name string, v, target float64, unit string) {
		fmt.Fprintf(w, "| %s | %.2f %s | ≤ %.0f %s | %s |\n", name, v, unit, target, unit, verdict(v <= target))
	}
	check("supervisor RSS", last.rssMB, targetRSSMB, "MB")
	check("restart to ready", last.ready.Seconds(), targetReadyS, "s")
	check("/api/queue p50", job.Millis(last.queue.p50), targetP50MS, "ms")
	check("/status p50", job.Millis(last.status.p50), targetP50MS, "ms")
	if ref != nil && ref != last {
		growth := func(name string, v, at10k float64) {
			ratio := v / at10k
			fmt.Fprintf(w, "| %s vs 10k | %.2f× | ≤ %.1f× | %s |\n", name, ratio, targetGrowthX, verdict(ratio <= targetGrowthX))
		}
		growth("RSS", last.rssMB, ref.rssMB)
		growth("ready", last.ready.Seconds(), ref.ready.Seconds())
		growth("/api/queue p50", job.Millis(last.queue.p50), job.Millis(ref.queue.p50))
		growth("/status p50", job.Millis(last.status.p50), job.Millis(ref.status.p50))
	}
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**MISS**"
}
