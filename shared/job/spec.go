package job

import "time"

// Spec is a validated request with every default filled in. It is what the
// job record stores and what runners execute, so a job can be reproduced
// from its record alone.
type Spec struct {
	Prompt         string  `json:"prompt"`
	NegativePrompt string  `json:"negative_prompt,omitempty"`
	Model          string  `json:"model"`
	Width          int     `json:"width"`
	Height         int     `json:"height"`
	Steps          int     `json:"steps"`
	Guidance       float64 `json:"guidance"`
	Seed           int64   `json:"seed"`
	NumImages      int     `json:"num_images"`
	RequestID      string  `json:"request_id,omitempty"`
	// Priority and Deadline say when the job may run, not what it makes.
	// Both are absent from specs made before they existed: no priority is
	// normal (Priority.Class), no deadline is none. Deadline is in UTC with
	// no monotonic reading, so specs still compare with ==.
	Priority Priority  `json:"priority,omitempty"`
	Deadline time.Time `json:"deadline,omitzero"`
	// CallbackURL is the webhook the supervisor calls when the job ends,
	// checked against the allow list at ingest and before every call.
	CallbackURL string `json:"callback_url,omitempty"`
}
