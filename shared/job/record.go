package job

import (
	"fmt"
	"time"
)

// Status is where a job stands. The lifecycle is queued → processing →
// completed | failed, or cancelled from queued or processing; rejected
// requests never become work. Moves lists every change allowed.
type Status string

// Job statuses.
const (
	StatusQueued     Status = "queued"
	StatusProcessing Status = "processing"
	StatusCompleted  Status = "completed"
	StatusFailed     Status = "failed"
	StatusRejected   Status = "rejected"
	StatusCancelled  Status = "cancelled"
)

// Statuses lists every status a record can have.
func Statuses() []Status {
	return []Status{StatusQueued, StatusProcessing, StatusCompleted, StatusFailed, StatusRejected, StatusCancelled}
}

// Terminal reports whether no worker may change the status any more.
func (s Status) Terminal() bool {
	return s == StatusCompleted || s == StatusFailed || s == StatusRejected || s == StatusCancelled
}

// Record is the job record stored in KV under its job id. Every change is a
// compare-and-set on the KV revision (see the jobstore package).
type Record struct {
	JobID       string     `json:"job_id"`
	Status      Status     `json:"status"`
	Spec        Spec       `json:"request"`
	Attempts    int        `json:"attempts"`
	Runner      string     `json:"runner,omitempty"`
	Images      []string   `json:"images,omitempty"`
	Error       *Failure   `json:"error,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	StartedAt   *time.Time `json:"started_at,omitempty"`
	CompletedAt *time.Time `json:"completed_at,omitempty"`
	Stages      Stages     `json:"stages"`

	// Delivery is the JetStream delivery working on the job now (or last).
	// A runner may finish a job only while the record still names its
	// delivery: that is the fence that keeps a stale runner's result out.
	Delivery *Delivery `json:"delivery,omitempty"`
	// Recoveries lists every time the supervisor took the job away from a
	// runner, and why.
	Recoveries []Recovery `json:"recoveries,omitempty"`
	// Requeues counts operator re-queues (each starts a fresh attempt count).
	Requeues int `json:"requeues,omitempty"`
	// UpdatedAt is the time of the last change, for reconciliation.
	UpdatedAt time.Time `json:"updated_at"`
	// Traceparent is the W3C trace context of the job's trace (set by
	// ingest when tracing is on): every process that works on the job adds
	// its spans to that trace.
	Traceparent string `json:"traceparent,omitempty"`
	// Client is the identity that submitted the job (bus.RequestClient):
	// a client creds' name, "default", or "http:<token>" for submissions
	// over HTTP. Quotas count per client.
	Client string `json:"client,omitempty"`

	// Lineage, stamped by the jobstore on every write, lets a reader that
	// missed revisions (history keeps only the latest) still count the
	// job once: FirstRevision is the revision that created the record
	// (0 on that revision itself), SettledAs the status of its latest
	// ended revision before this one ("" if it never ended before).
	FirstRevision uint64 `json:"first_revision,omitempty"`
	SettledAs     Status `json:"settled_as,omitempty"`
}

// CreatingRevision is the revision that created the record, given the
// revision rev it was read at (FirstRevision is 0 on that one itself).
func (r Record) CreatingRevision(rev uint64) uint64 {
	if r.FirstRevision == 0 {
		return rev
	}
	return r.FirstRevision
}

// Delivery identifies one JetStream delivery of a job's work message.
type Delivery struct {
	StreamSeq uint64 `json:"stream_seq"`
	Delivered int    `json:"delivered"`
	Runner    string `json:"runner"`
	// Boot names the runner process (its incarnation) that holds the
	// delivery: when a runner of the same name comes back with another
	// boot, this delivery died with the old process.
	Boot      string    `json:"boot,omitempty"`
	StartedAt time.Time `json:"started_at"`
	// AckSubject is the delivery's reply subject: the supervisor NAKs a
	// stalled delivery by publishing to it.
	AckSubject string `json:"ack_subject,omitempty"`
}

// Public is the record as shown outside the pipeline (HTTP, the archive in
// S3): without the delivery's reply subject, since whoever holds it can ack
// or NAK the delivery, which is the runner's and the watchdog's business
// alone.
func (r Record) Public() Record {
	r.FirstRevision, r.SettledAs = 0, ""
	if r.Delivery != nil {
		d := *r.Delivery
		d.AckSubject = ""
		r.Delivery = &d
	}
	return r
}

// Token names the delivery in events and logs: "<stream_seq>.<delivered>".
func (d *Delivery) Token() string {
	if d == nil {
		return ""
	}
	return fmt.Sprintf("%d.%d", d.StreamSeq, d.Delivered)
}

// Same reports whether two deliveries are the same one.
func (d *Delivery) Same(o *Delivery) bool {
	return d != nil && o != nil && d.StreamSeq == o.StreamSeq && d.Delivered == o.Delivered && d.Runner == o.Runner
}

// Recovery is one intervention of the supervisor on a job.
type Recovery struct {
	At       time.Time `json:"at"`
	Attempt  int       `json:"attempt"`
	Runner   string    `json:"runner"`
	Delivery string    `json:"delivery"`
	Reason   string    `json:"reason"`
}

// Failure says why a job was rejected or failed.
type Failure struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
}

func (f *Failure) Error() string { return fmt.Sprintf("%s: %s", f.Code, f.Message) }

// Stages holds the duration of each stage of the last attempt, in
// milliseconds, once known.
type Stages struct {
	QueueWaitMS float64 `json:"queue_wait_ms,omitempty"`
	InferenceMS float64 `json:"inference_ms,omitempty"`
	EncodeMS    float64 `json:"encode_ms,omitempty"`
	UploadMS    float64 `json:"upload_ms,omitempty"`
	// BatchSize is how many jobs shared the model run (1 when alone).
	BatchSize int `json:"batch_size,omitempty"`
}

// Millis converts a duration to the fractional milliseconds Stages uses.
func Millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// UTC is t in UTC with a pointer, for the optional timestamps: the original
// app read UTC back as local time, so every stored time is explicitly UTC.
func UTC(t time.Time) *time.Time {
	u := t.UTC()
	return &u
}
