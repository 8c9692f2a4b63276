package job

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
}
