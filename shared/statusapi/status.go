// Package statusapi is the supervisor's GET /status answer, laid out once:
// the supervisor fills it, and its readers (the operator's CLI, the
// end-to-end tests) decode the same type instead of each keeping a copy.
package statusapi

import (
	"time"

	"cyberimage/shared/bus"
)

// Answer is GET /status's answer. The parts whose types belong to the
// supervisor's own packages are parameters, so that it encodes them as
// they are: J the job counts by status, R a runner, M a model, C a
// recovery. Readers use Status.
type Answer[J, R, M, C any] struct {
	Queue          Queue            `json:"queue"`
	Jobs           J                `json:"jobs"`
	JobsInProgress []InProgress     `json:"jobs_in_progress"`
	Runners        []R              `json:"runners"`
	Models         []M              `json:"models"`
	Recoveries     []C              `json:"recoveries"`
	RecoveryCounts map[string]int64 `json:"recovery_counts"`
	Supervisor     Supervisor       `json:"supervisor"`
	At             time.Time        `json:"at"`
}

// Status is the answer as a reader decodes it.
type Status = Answer[map[string]int, Runner, Model, Recovery]

// Queue is the work queue, added up over the runners' consumers.
type Queue struct {
	Pending     uint64 `json:"pending"`
	InProgress  int    `json:"in_progress"`
	Redelivered int    `json:"redelivered"`
	// Dead is the number of messages in the dead-letter stream.
	Dead uint64 `json:"dead"`
}

// InProgress is a job being run: its current delivery and the progress
// its runner last reported. Elapsed counts from the start of this
// delivery's run, on the supervisor's clock.
type InProgress struct {
	JobID          string     `json:"job_id"`
	Model          string     `json:"model"`
	Runner         string     `json:"runner"`
	Attempt        int        `json:"attempt"`
	Deliveries     int        `json:"deliveries"`
	Delivery       string     `json:"delivery,omitempty"`
	StartedAt      *time.Time `json:"started_at,omitempty"`
	ElapsedSeconds float64    `json:"elapsed_seconds"`
	Step           int        `json:"step"`
	TotalSteps     int        `json:"total_steps"`
	LastProgress   *time.Time `json:"last_progress,omitempty"`
}

// Supervisor is which supervisor holds the leader's lease, and whether the
// one that answered is it.
type Supervisor struct {
	Leader bool   `json:"leader"`
	Holder string `json:"leader_id"`
}

// Runner is a runner as a reader decodes it: its last heartbeat, the
// supervisor's judgement of its health (healthy, unhealthy or lost) and
// the operator's drain.
type Runner struct {
	bus.Heartbeat
	Health string `json:"health"`
	// Draining: an operator drained it (the supervisor's record); it takes
	// no new work. It hides the heartbeat's own draining field.
	Draining bool `json:"draining"`
	// DrainPending: its heartbeat does not show the drain or undrain yet.
	DrainPending bool `json:"drain_pending,omitempty"`
}

// Model is a model's queue as a reader decodes it.
type Model struct {
	Name string `json:"name"`
	// Paused: its queue is paused; its jobs wait until it is resumed.
	Paused bool `json:"paused"`
}

// Recovery is a job the supervisor took back, as a reader decodes it (the
// fields readers use).
type Recovery struct {
	At     time.Time `json:"at"`
	Kind   string    `json:"kind"`
	JobID  string    `json:"job_id"`
	Runner string    `json:"runner"`
	Reason string    `json:"reason"`
}
