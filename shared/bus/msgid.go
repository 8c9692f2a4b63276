package bus

import (
	"strconv"
	"time"
)

// Every Nats-Msg-Id the services set is built here. JetStream drops a
// publish whose id it saw within the stream's duplicate window, so an id
// says which publishes count as one: the same id for a retry of the same
// publish, a new one for a publish that must not be swallowed.

// QueueMsgID is the id of a job's first work message, ingest's: its job
// id, so a request redelivered to ingest queues the job once.
func QueueMsgID(jobID string) string { return jobID }

// RequeueMsgID is the id of an operator's requeues-th re-queue of a job.
func RequeueMsgID(jobID string, requeues int) string {
	return jobID + ":requeue:" + strconv.Itoa(requeues)
}

// ReconcileMsgID is the id of the reconciler's re-queue of a lost job,
// new for each re-queue (the time of the record's re-queue), so the
// duplicate window of the lost message cannot swallow it.
func ReconcileMsgID(jobID string, requeuedAt time.Time) string {
	return jobID + ":reconciled:" + strconv.FormatInt(requeuedAt.UnixNano(), 10)
}

// DeadLetterMsgID is the id of a work message's dead letter: one per work
// message, however often its advisory comes.
func DeadLetterMsgID(streamSeq uint64) string { return "dlq:" + strconv.FormatUint(streamSeq, 10) }
