package bus

import "time"

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
	// Draining: an operator drained the runner (ControlDrain): it takes no
	// new work, finishes what it holds and stays up, until undrained.
	Draining bool `json:"draining,omitempty"`
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

// EncodeHeartbeat is the JSON of a heartbeat.
func EncodeHeartbeat(h Heartbeat) []byte { return encode(h) }

// DecodeHeartbeat reads a runner's heartbeat.
func DecodeHeartbeat(data []byte) (Heartbeat, error) {
	return decode(data, MaxMessageBytes, func(h *Heartbeat) error {
		if !ValidToken(h.Runner) {
			return malformed("heartbeat names no valid runner")
		}
		if h.Slots < 0 || h.Busy < 0 || len(h.Models) > 1024 || len(h.GPUs) > 256 || len(h.Jobs) > 1024 {
			return malformed("heartbeat figures out of range")
		}
		for _, j := range h.Jobs {
			if !ValidToken(j.JobID) || j.Step < 0 || j.TotalSteps < 0 {
				return malformed("heartbeat names a job badly")
			}
		}
		return nil
	})
}
