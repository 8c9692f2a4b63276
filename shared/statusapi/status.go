// Package statusapi is the supervisor's GET /status answer, laid out once:
// the supervisor fills it, and its readers (the operator's CLI, the
// end-to-end tests) decode the same type instead of each keeping a copy.
package statusapi

import (
	"time"

	"cyberimage/shared/bus"
)

// Status is GET /status's answer: the supervisor encodes it and its
// readers decode it, so the two cannot drift apart unnoticed.
type Status struct {
	Queue          Queue            `json:"queue"`
	Jobs           Counts           `json:"jobs"`
	JobsInProgress []InProgress     `json:"jobs_in_progress"`
	Runners        []Runner         `json:"runners"`
	Models         []Model          `json:"models"`
	Recoveries     []Recovery       `json:"recoveries"`
	RecoveryCounts map[string]int64 `json:"recovery_counts"`
	Supervisor     Supervisor       `json:"supervisor"`
	At             time.Time        `json:"at"`
}

// Counts are the jobs by status, the original app's queue counts. The
// supervisor's index keeps them as its own type over this one (it adds
// methods), so the fields and their names are laid out here only.
type Counts struct {
	Pending    int `json:"pending"`
	Processing int `json:"processing"`
	Completed  int `json:"completed"`
	Failed     int `json:"failed"`
	Rejected   int `json:"rejected"`
	Cancelled  int `json:"cancelled"`
	// Total leaves out rejected requests: they never became jobs.
	Total int `json:"total"`
}

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

// Runner is a runner: its last heartbeat, the supervisor's judgement of
// its health (healthy, unhealthy or lost) and the operator's drain.
type Runner struct {
	bus.Heartbeat
	Health string `json:"health"`
	// Draining: an operator drained it (the supervisor's record, shown at
	// once); it takes no new work. It hides the heartbeat's own draining
	// field.
	Draining bool `json:"draining"`
	// DrainPending: its heartbeat does not show the drain or undrain yet.
	DrainPending bool `json:"drain_pending,omitempty"`
}

// Model is a model's queue.
type Model struct {
	Name string `json:"name"`
	// Paused: its queue is paused; its jobs wait until it is resumed.
	Paused bool `json:"paused"`
}

// Recovery is a job (or runner) the supervisor intervened on.
type Recovery struct {
	At       time.Time `json:"at"`
	Kind     string    `json:"kind"`
	JobID    string    `json:"job_id,omitempty"`
	Runner   string    `json:"runner,omitempty"`
	Attempt  int       `json:"attempt,omitempty"`
	Delivery string    `json:"delivery,omitempty"`
	Reason   string    `json:"reason"`
	// ElapsedSeconds is how long the delivery had run when recovered.
	ElapsedSeconds float64 `json:"elapsed_seconds,omitempty"`
}
