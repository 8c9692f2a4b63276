// Package bus holds the NATS names and settings every service agrees on, and
// Ensure, which creates or updates the streams, consumers and buckets they
// need. Names here are part of the public contract (README, "Contract v1").
package bus

// Subjects, streams, consumers and buckets.
const (
	// StreamRequests captures user requests durably, so a request published
	// while ingest is down waits for it.
	StreamRequests   = "CYBERIMAGE_REQUESTS"
	SubjectRequests  = "cyberimage.requests"
	ConsumerIngest   = "ingest"
	StreamJobs       = "CYBERIMAGE_JOBS"
	SubjectJobsAll   = "cyberimage.jobs.>"
	ConsumerRunners  = "gpu-runners"
	BucketJobs       = "cyberimage_jobs"
	subjectJobPrefix = "cyberimage.jobs."

	// SubjectEventsAll matches every job's progress events.
	SubjectEventsAll   = "cyberimage.events.>"
	subjectEventPrefix = "cyberimage.events."

	// SubjectHeartbeatsAll matches every runner's heartbeat.
	SubjectHeartbeatsAll   = "cyberimage.runners.*.heartbeat"
	subjectHeartbeatPrefix = "cyberimage.runners."
)

// JobSubject is the work subject for a model, so runners can later consume
// only the models they serve.
func JobSubject(model string) string { return subjectJobPrefix + model }

// EventSubject is where progress events of one job are published.
func EventSubject(jobID string) string { return subjectEventPrefix + jobID }

// HeartbeatSubject is where a runner announces itself.
func HeartbeatSubject(runner string) string {
	return subjectHeartbeatPrefix + runner + ".heartbeat"
}
