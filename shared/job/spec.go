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
}

// Work is the message queued on the jobs stream: enough for a runner to do
// the job without reading the record first.
type Work struct {
	JobID string `json:"job_id"`
	Spec  Spec   `json:"spec"`
	// CreatedAt and Revision describe the record as queued, so a runner can
	// claim it with one compare-and-set instead of a read and a write; if
	// the record changed since, the claim falls back to reading it.
	CreatedAt time.Time `json:"created_at,omitzero"`
	Revision  uint64    `json:"revision,omitempty"`
	// Traceparent is the record's, so QueuedRecord is the record exactly.
	Traceparent string `json:"traceparent,omitempty"`
}

// RequeueWork is the work message that queues an existing record again:
// its job, its spec and its trace (no revision: the runner reads the
// record to claim it).
func (r Record) RequeueWork() Work {
	return Work{JobID: r.JobID, Spec: r.Spec, Traceparent: r.Traceparent}
}

// QueuedRecord is the record ingest wrote for this work, valid as long as
// the record is still at Revision.
func (w Work) QueuedRecord() Record {
	return Record{JobID: w.JobID, Status: StatusQueued, Spec: w.Spec, CreatedAt: w.CreatedAt, Traceparent: w.Traceparent}
}
