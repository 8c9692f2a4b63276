package bus

import (
	"time"

	"cyberimage/shared/job"
)

// ProgressEvent is published on EventSubject(job_id) at each step and at each
// change of status, so `nats sub 'cyberimage.events.>'` shows live progress.
type ProgressEvent struct {
	JobID      string     `json:"job_id"`
	Status     job.Status `json:"status"`
	Step       int        `json:"step"`
	TotalSteps int        `json:"total_steps"`
	Runner     string     `json:"runner"`
	Attempt    int        `json:"attempt,omitempty"`
	// Delivery identifies the delivery ("<stream_seq>.<delivered>").
	Delivery string    `json:"delivery,omitempty"`
	At       time.Time `json:"at"`
	Message  string    `json:"message,omitempty"`
}

// EncodeProgressEvent is the JSON of a progress event.
func EncodeProgressEvent(e ProgressEvent) []byte { return encode(e) }

// DecodeProgressEvent reads a job's progress event.
func DecodeProgressEvent(data []byte) (ProgressEvent, error) {
	return decode(data, MaxMessageBytes, func(e *ProgressEvent) error {
		if !ValidToken(e.JobID) {
			return malformed("event names no valid job")
		}
		if e.Step < 0 || e.TotalSteps < 0 || e.Step > e.TotalSteps+1 {
			return malformed("event step %d of %d", e.Step, e.TotalSteps)
		}
		return nil
	})
}
