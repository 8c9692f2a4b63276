package bus

import (
	"time"

	"cyberimage/shared/job"
)

// ProgressEvent is published on EventSubject(job_id) at each step and at each
// change of status, so `nats sub 'cyberimage.events.>'` shows live progress.
type ProgressEvent struct {
	JobID      string `json:"job_id"`
	Status     string `json:"status"`
	Step       int    `json:"step"`
	TotalSteps int    `json:"total_steps"`
	Runner     string `json:"runner"`
	Attempt    int    `json:"attempt,omitempty"`
	// Delivery identifies the delivery ("<stream_seq>.<delivered>").
	Delivery string    `json:"delivery,omitempty"`
	At       time.Time `json:"at"`
	Message  string    `json:"message,omitempty"`
}

// Heartbeat is published by each runner every few seconds on
// HeartbeatSubject(runner); the supervisor lists runners from it.
type Heartbeat struct {
	Runner string `json:"runner"`
	Host   string `json:"host"`
	PID    int    `json:"pid"`
	// Boot is random per runner process: a runner restarted under the same
	// name (by its process manager) is a new incarnation, whose
	// predecessor's deliveries (job.Delivery.Boot) are void.
	Boot   string   `json:"boot,omitempty"`
	Models []string `json:"models"`
	Slots  int      `json:"slots"`
	Busy   int      `json:"busy"`
	// Device is "cpu" or the CUDA devices slots run on ("cuda:0,1").
	Device  string    `json:"device"`
	GPUs    []GPU     `json:"gpus,omitempty"`
	Started time.Time `json:"started"`
	At      time.Time `json:"at"`
	// Quarantined: the runner takes no new work until the model reload it
	// was ordered to do has succeeded.
	Quarantined bool `json:"quarantined,omitempty"`
	// LastReload is the ID of the last reload order the runner carried
	// out; the supervisor repeats an order until a heartbeat shows it.
	LastReload string `json:"last_reload,omitempty"`
	// Dropped counts bus messages the runner threw away (malformed or
	// expired orders, unreadable work) since it started.
	Dropped uint64 `json:"dropped,omitempty"`
	// Reconnects counts the times the runner's NATS connection was made
	// again after it was lost.
	Reconnects uint64 `json:"reconnects,omitempty"`
	// Jobs is the step each delivery the runner holds has reached: the
	// supervisor's silence rule reads progress here, on the runner's own
	// heartbeat subject (which only that runner may publish), never from
	// events, which any runner may publish for any job. Always present
	// (empty when idle); absent only from runners older than it.
	Jobs []HeldJob `json:"jobs"`
}

// HeldJob is one delivery a runner holds and how far its run is.
type HeldJob struct {
	JobID      string `json:"job_id"`
	Delivery   string `json:"delivery"` // the delivery's token, <stream_seq>.<delivered>
	Step       int    `json:"step"`
	TotalSteps int    `json:"total_steps"`
	// AckSubject is the delivery's reply subject, for the supervisor
	// alone (only it hears heartbeats): a delivery still waiting in a
	// runner's prefetch buffer has no claim in its record, and when that
	// runner is gone this is how the supervisor hands it back at once.
	// Never shown outside (the tracker's view drops it).
	AckSubject string `json:"ack_subject,omitempty"`
}

// GPU describes one accelerator a runner found through NVML, with its
// telemetry at the time of the heartbeat.
type GPU struct {
	Index              int     `json:"index"`
	UUID               string  `json:"uuid"`
	Name               string  `json:"name"`
	Driver             string  `json:"driver,omitempty"`
	MemoryTotal        uint64  `json:"memory_total_bytes"`
	MemoryUsed         uint64  `json:"memory_used_bytes"`
	UtilizationPercent uint32  `json:"utilization_percent"`
	TemperatureC       uint32  `json:"temperature_c"`
	PowerWatts         float64 `json:"power_watts"`
	// InUse: the runner runs slots on this GPU (CUDA), not just sees it.
	InUse bool `json:"in_use"`
}

// Control orders sent to a runner on ControlSubject(runner).
const (
	// ControlAbandon: stop working on a delivery (terminate its inference)
	// and never ack it; the supervisor has given the job to someone else.
	ControlAbandon = "abandon"
	// ControlCancel: the job was cancelled; stop working on it and never
	// ack it (the supervisor removed its message).
	ControlCancel = "cancel"
	// ControlReload: drop and reload every model session (the original
	// app's forced cleanup), after repeated stalls.
	ControlReload = "reload"
)

// Control is an order to a runner.
type Control struct {
	// ID names a reload order, so a repeated order is carried out once.
	ID     string `json:"id,omitempty"`
	Action string `json:"action"`
	// Delivery is the delivery an abandon or cancel order concerns
	// ("<stream_seq>.<delivered>"); a runner ignores orders about
	// deliveries it does not hold.
	Delivery string `json:"delivery,omitempty"`
	// ExpiresAt bounds replays: a runner ignores an order past it (with
	// OrderClockTolerance for its clock).
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	JobID     string    `json:"job_id,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	At        time.Time `json:"at"`
}

// OrderTTL is how long an order is valid after it is sent.
const OrderTTL = time.Minute

// OrderClockTolerance is how far a runner's clock may be ahead of the
// supervisor's before it wrongly takes a fresh order for an expired one:
// orders are refused only this long past their expiry. Orders about a job
// are also bound to one delivery, which is what really keeps a replayed
// order from touching anything else.
const OrderClockTolerance = 15 * time.Minute

// Expired reports whether an order is past its expiry by the runner's
// clock, allowing for OrderClockTolerance. Orders without an expiry (from
// an older supervisor) are taken.
func (c Control) Expired(now time.Time) bool {
	return !c.ExpiresAt.IsZero() && now.After(c.ExpiresAt.Add(OrderClockTolerance))
}

// RequestReply is ingest's answer to a request published with a reply
// subject (`nats req`, the supervisor's POST /v1/jobs): the job it made or
// found, or why the request was rejected.
type RequestReply struct {
	JobID     string        `json:"job_id,omitempty"`
	Status    job.Status    `json:"status,omitempty"`
	Duplicate bool          `json:"duplicate,omitempty"`
	Error     *RequestError `json:"error,omitempty"`
}

// RequestError is a rejection: the stable code, the field at fault, and a
// message for people.
type RequestError struct {
	Code    job.Code `json:"code"`
	Field   string   `json:"field,omitempty"`
	Message string   `json:"message"`
}
