// Package bus holds the NATS names and settings every service agrees on, and
// Ensure, which creates or updates the streams, consumers and buckets they
// need. Names here are part of the public contract (README, "Contract v1").
package bus

import "cyberimage/shared/job"

// Subjects, streams, consumers and buckets.
const (
	// StreamRequests captures user requests durably, so a request published
	// while ingest is down waits for it.
	StreamRequests  = "CYBERIMAGE_REQUESTS"
	SubjectRequests = "cyberimage.requests"
	// SubjectRequestsAll matches the per-client request subjects
	// (RequestSubject): a named client's, and the supervisor's HTTP
	// submissions'. The requests stream captures both it and the bare
	// subject.
	SubjectRequestsAll = "cyberimage.requests.>"
	ConsumerIngest     = "ingest"
	StreamJobs         = "CYBERIMAGE_JOBS"
	SubjectJobsAll     = "cyberimage.jobs.>"
	// ConsumerRunners prefixes the runners' durable consumers, one per
	// model and priority class (ClassConsumer), so a runner pulls only the
	// models it serves, and each class apart.
	ConsumerRunners  = "gpu-runners"
	BucketJobs       = "cyberimage_jobs"
	subjectJobPrefix = "cyberimage.jobs."

	// SubjectEventsAll matches every job's progress events.
	SubjectEventsAll   = "cyberimage.events.>"
	subjectEventPrefix = "cyberimage.events."

	subjectControlPrefix = "cyberimage.control."

	// StreamDLQ keeps the work message of every job that failed for good,
	// with the reason, for inspection and re-queueing.
	StreamDLQ        = "CYBERIMAGE_DLQ"
	SubjectDLQAll    = "cyberimage.dlq.>"
	subjectDLQPrefix = "cyberimage.dlq."

	// StreamAdvisories captures the runners' consumer advisories durably,
	// so a supervisor that was down still learns of every job that ran out
	// of deliveries or was terminated.
	StreamAdvisories     = "CYBERIMAGE_ADVISORIES"
	ConsumerSupervisor   = "supervisor"
	SubjectMaxDeliveries = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + StreamJobs + ".*"
	SubjectTerminated    = "$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED." + StreamJobs + ".*"

	// SubjectAcks matches every ack runners send for job deliveries (the
	// runners' consumers are the only consumers of the jobs stream).
	SubjectAcks = "$JS.ACK." + StreamJobs + ".*.>"

	// BucketLeases holds the supervisor leader lease.
	BucketLeases = "cyberimage_leases"

	// BucketRunners holds the watchdog's memory of each runner (recent
	// stalls, emergency reloads), so a new leader judges with the same
	// history as the old one.
	BucketRunners = "cyberimage_runners"
	// BucketSupervisor holds what the supervisor keeps across restarts:
	// how far it has archived ended jobs to S3.
	BucketSupervisor = "cyberimage_supervisor"
	// BucketWebhooks holds each ended job's webhook delivery, keyed by
	// job id: its state and attempts, shown on the job.
	BucketWebhooks = "cyberimage_webhooks"

	// SubjectHeartbeatsAll matches every runner's heartbeat.
	SubjectHeartbeatsAll   = "cyberimage.runners.*.heartbeat"
	subjectHeartbeatPrefix = "cyberimage.runners."
)

// JobSubject is the work subject of one normal job:
// cyberimage.jobs.<model>.<job_id>. The model token lets runners consume
// only the models they serve; the job token lets the supervisor look a
// job's message up directly (the stream keeps a per-subject index), which
// reconciliation relies on.
func JobSubject(model, jobID string) string { return subjectJobPrefix + model + "." + jobID }

// WorkSubject is the work subject of a job of class p. Normal work keeps
// the subject it had before priorities (JobSubject), so messages queued
// then stay valid; high and low work carry the class as a token of its
// own, cyberimage.jobs.<model>.<class>.<job_id>, one token more than any
// normal subject, so no class's filter matches another's.
func WorkSubject(model string, p job.Priority, jobID string) string {
	if p.Class() == job.PriorityNormal {
		return JobSubject(model, jobID)
	}
	return subjectJobPrefix + model + "." + string(p) + "." + jobID
}

// classFilter is the filter of a class's consumer: every job of that
// model and class, and nothing of another class.
func classFilter(model string, p job.Priority) string { return WorkSubject(model, p, "*") }

// RunnerConsumer is the durable consumer runners pull a model's normal
// work from: gpu-runners-<model>, its name from before priorities.
func RunnerConsumer(model string) string { return ClassConsumer(model, job.PriorityNormal) }

// ClassConsumer is the durable consumer runners pull a model's work of
// class p from: gpu-runners-<model> for normal (RunnerConsumer),
// gpu-runners-<model>-high and gpu-runners-<model>-low. The jobs stream is
// a work queue, whose consumers may not overlap, hence one consumer per
// model and class rather than one filtered per runner; a runner weighs the
// classes itself (job.PullOrder).
func ClassConsumer(model string, p job.Priority) string {
	if p.Class() == job.PriorityNormal {
		return ConsumerRunners + "-" + model
	}
	return ConsumerRunners + "-" + model + "-" + string(p)
}

// ControlSubject is where the supervisor sends orders to one runner.
func ControlSubject(runner string) string { return subjectControlPrefix + runner }

// RecordSubject is the subject a job record's revisions are stored under in
// the bucket (what KeyValue.Put publishes to).
func RecordSubject(jobID string) string { return "$KV." + BucketJobs + "." + jobID }

// WebhookSubject is the subject a job's webhook entry is stored under in
// its bucket (what KeyValue.Put publishes to).
func WebhookSubject(jobID string) string { return "$KV." + BucketWebhooks + "." + jobID }

// DLQSubject is where a failed job's work message is copied.
func DLQSubject(model, jobID string) string { return subjectDLQPrefix + model + "." + jobID }

// EventSubject is where progress events of one job are published.
func EventSubject(jobID string) string { return subjectEventPrefix + jobID }

// HeartbeatSubject is where a runner announces itself.
func HeartbeatSubject(runner string) string {
	return subjectHeartbeatPrefix + runner + ".heartbeat"
}
