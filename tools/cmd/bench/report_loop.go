package main

import (
	"slices"
	"strings"
)

// loopMean is the raw loop's throughput and CPU per job by process, the
// mean of the runs before and after the pipeline.
func (r *results) loopMean() (jobsPerSec float64, cpu map[string]float64) {
	cpu = map[string]float64{}
	n := 0.0
	for _, set := range r.Raw {
		if set.Loop.Jobs == 0 {
			continue
		}
		n++
		jobsPerSec += set.Loop.JobsPerSec
		for k, v := range set.Loop.CPUMSPerJob {
			cpu[k] += v
		}
	}
	if n == 0 {
		return 0, nil
	}
	for k := range cpu {
		cpu[k] /= n
	}
	return jobsPerSec / n, cpu
}

// printLoopOverhead answers "what does the queue cost?": the pipeline
// against the raw loop of the same work, in throughput and in CPU per job,
// split by process.
func printLoopOverhead(p func(string, ...any), r *results) {
	loopRate, loopCPU := r.loopMean()
	if loopRate == 0 {
		return
	}
	pipe := r.Burst.CPUPerJobMS
	runners := 0.0
	var others []string
	for name, v := range pipe {
		switch {
		case strings.HasPrefix(name, "runner"):
			runners += v
		case name != "total" && name != "minio" && name != harnessName:
			others = append(others, name)
		}
	}
	slices.Sort(others)
	msgs := r.Burst.NATSMsgsPerJob.In + r.Burst.NATSMsgsPerJob.Out
	p("")
	p("### Queue overhead against the raw loop, by process")
	p("")
	p("NATS messages per job, in + out: %.1f + %.1f = **%.1f** (target ≤ %d, %s; the raw loop sends none).", r.Burst.NATSMsgsPerJob.In,
		r.Burst.NATSMsgsPerJob.Out, msgs, targetNATSMsgsPerJob, verdict(msgs <= targetNATSMsgsPerJob))
	p("")
	p("Overhead CPU-ms per job by process (pipeline − raw loop):")
	p("")
	p("| process | pipeline | raw loop | overhead |")
	p("|---|---:|---:|---:|")
	p("| runners (model, encode, S3 client, and the queue's work) | %.3f | %.3f (worker) | %.3f |", runners, loopCPU["worker"], runners-loopCPU["worker"])
	p("| minio | %.3f | %.3f | %.3f |", pipe["minio"], loopCPU["minio"], pipe["minio"]-loopCPU["minio"])
	p("| %s (NATS server) | %.3f | %.3f | %.3f |", harnessName, pipe[harnessName], loopCPU[harnessName], pipe[harnessName]-loopCPU[harnessName])
	for _, name := range others {
		p("| %s | %.3f | 0 | %.3f |", name, pipe[name], pipe[name])
	}
	printMsgsByClient(p, r)
}

// printMsgsByClient splits the NATS messages per job by the client that
// published them (in) and the client they were delivered to (out); what is
// left of the server's totals is JetStream's own traffic (e.g. replication).
func printMsgsByClient(p func(string, ...any), r *results) {
	by := r.Burst.NATSMsgsPerJob.ByClient
	if len(by) == 0 {
		return
	}
	kinds := make([]string, 0, len(by))
	for k := range by {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	p("")
	p("NATS messages per job by client (in: it published; out: delivered to it):")
	p("")
	p("| client | in | out |")
	p("|---|---:|---:|")
	var in, out float64
	for _, k := range kinds {
		p("| %s | %.2f | %.2f |", k, by[k].In, by[k].Out)
		in += by[k].In
		out += by[k].Out
	}
	p("| server's own (total − clients) | %.2f | %.2f |", r.Burst.NATSMsgsPerJob.In-in, r.Burst.NATSMsgsPerJob.Out-out)
}
