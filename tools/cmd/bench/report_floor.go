package main

// floorMean is the design's floor (every part the pipeline runs), the mean
// of the runs before and after the pipeline.
func (r *results) floorMean() (floorResult, bool) {
	var m floorResult
	n := 0.0
	m.CPUMSPerJob = map[string]float64{}
	for _, set := range r.Raw {
		f := set.Floor
		if f.Jobs == 0 {
			continue
		}
		n++
		m.Upto = f.Upto
		m.JobsPerSec += f.JobsPerSec
		m.MsgsPerJob.In += f.MsgsPerJob.In
		m.MsgsPerJob.Out += f.MsgsPerJob.Out
		m.E2EP50MS += f.E2EP50MS
		m.InferenceP50MS += f.InferenceP50MS
		m.UploadP50MS += f.UploadP50MS
		m.EncodeP50MS += f.EncodeP50MS
		for k, v := range f.CPUMSPerJob {
			m.CPUMSPerJob[k] += v
		}
	}
	if n == 0 {
		return m, false
	}
	m.JobsPerSec /= n
	m.MsgsPerJob.In /= n
	m.MsgsPerJob.Out /= n
	m.E2EP50MS /= n
	m.InferenceP50MS /= n
	m.UploadP50MS /= n
	m.EncodeP50MS /= n
	for k := range m.CPUMSPerJob {
		m.CPUMSPerJob[k] /= n
	}
	return m, true
}

// printFloor says what the floor is (its figures beside the pipeline's are
// in the per-job cost table): what the design's messages and objects cost
// with no services around them. No implementation of this design can go
// below the floor on this machine; a target below it asks for a different
// design.
func printFloor(p func(string, ...any), r *results) {
	floor, ok := r.floorMean()
	loopRate, loopCPU := r.loopMean()
	if !ok || loopRate == 0 {
		return
	}
	pipeMsgs := r.Burst.NATSMsgsPerJob.In + r.Burst.NATSMsgsPerJob.Out
	floorMsgs := floor.MsgsPerJob.In + floor.MsgsPerJob.Out
	p("")
	p("### The design's floor: the same messages and objects with no services")
	p("")
	p("The floor (bench-model, up to part `%s`): one process makes every NATS message and S3 object the pipeline spends on a job "+
		"with plain client calls (request stream and ingest's copy, record create, work, claim, completion with TTL, acks, the "+
		"`completed` event and one watcher, the supervisor's copies, the archive's job.json), and the same work, with none of "+
		"the services' code around them. Measured before and after the pipeline in this run; a lower bound for this design. "+
		"Its throughput, CPU and latency are in the per-job cost table above.", floor.Upto)
	p("")
	p("NATS messages per job: floor %.1f, pipeline %.1f (pipeline − floor %.1f).", floorMsgs, pipeMsgs, pipeMsgs-floorMsgs)
	p("")
	p("Floor CPU-ms per job by process: bench-model (every role, the model and the clients) %.3f, MinIO %.3f, NATS server %.3f.",
		floor.CPUMSPerJob["worker"], floor.CPUMSPerJob["minio"], floor.CPUMSPerJob[harnessName])
	printLadder(p, r, loopRate, loopCPU["total"])
}

// printLadder prints the floor part by part (-floor-ladder): what each
// guarantee adds to a bare durable queue.
func printLadder(p func(string, ...any), r *results, loopRate, loopCPU float64) {
	var ladder []floorResult
	for _, set := range r.Raw {
		if len(set.Ladder) > 0 {
			ladder = set.Ladder
		}
	}
	if len(ladder) == 0 {
		return
	}
	p("")
	p("The floor part by part (`-floor-ladder`, once, before the pipeline): each row adds one guarantee's messages and objects to the rows above.")
	p("")
	p("| up to | adds | jobs/s | ÷ raw loop | overhead CPU-ms per job | NATS messages per job | p50 overhead at one in flight, ms |")
	p("|---|---|---:|---:|---:|---:|---:|")
	for _, f := range ladder {
		p("| %s | %s | %.1f | %.2f | %.2f | %.1f | %.2f |", f.Upto, floorPartAdds[f.Upto], f.JobsPerSec, f.JobsPerSec/loopRate,
			f.CPUMSPerJob["total"]-loopCPU, f.MsgsPerJob.In+f.MsgsPerJob.Out, f.OverheadP50MS())
	}
}

// floorPartAdds says what each part of the floor adds, for the report.
var floorPartAdds = map[string]string{
	"queue":      "durable work queue: publish with ack, pull one with a free slot, ack",
	"record":     "the job's record: create, fenced claim, fenced completion with TTL",
	"intake":     "durable requests: their stream, ingest's core copy, batched pull, request ack",
	"events":     "the `completed` event and one watcher",
	"supervisor": "the supervisor's copies of record writes, events and acks",
	"archive":    "job.json in S3",
}
