package benchmodel

// Asynq is the peer: asynq with a Redis server doing the same work per task
// as the raw loop and the floor (generate, encode, PUT with metadata), its
// result written to the task and the task kept as completed, as asynq users
// record a job's outcome. The bench prices the pipeline against it in the
// same run.
type Asynq struct {
	Version    string  `json:"asynq_version"` // the asynq module bench-model was built with
	Jobs       int     `json:"jobs"`
	Workers    int     `json:"workers"` // the asynq server's concurrency: runners × slots
	Seconds    float64 `json:"seconds"`
	JobsPerSec float64 `json:"jobs_per_sec"`
	// CheckIntervalMS is the server's TaskCheckInterval: how long its
	// processor sleeps when the queue is empty, which bounds the latency of
	// a task enqueued into an idle server (asynq polls, it is not pushed).
	CheckIntervalMS float64 `json:"task_check_interval_ms"`
	// Paced is the latency run: tasks one at a time, enqueue → the handler
	// done (its result written), and the stages the pipeline's overhead
	// formula subtracts.
	Paced          int     `json:"paced"`
	E2EP50MS       float64 `json:"e2e_p50_ms"`
	InferenceP50MS float64 `json:"inference_p50_ms"`
	EncodeP50MS    float64 `json:"encode_p50_ms"`
	UploadP50MS    float64 `json:"upload_p50_ms"`
}

// OverheadP50MS is asynq's p50 overhead at one task in flight, by the
// pipeline's formula: e2e − (inference + upload).
func (a Asynq) OverheadP50MS() float64 { return a.E2EP50MS - a.InferenceP50MS - a.UploadP50MS }
