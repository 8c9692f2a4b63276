package index

import (
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
)

// Entry is what the index keeps of a record.
type Entry struct {
	JobID  string
	Status job.Status
	Model  string
	// Prompt is kept for the job list's text search.
	Prompt      string
	Runner      string
	Attempts    int
	CreatedAt   time.Time
	StartedAt   *time.Time
	CompletedAt *time.Time
	UpdatedAt   time.Time
	Delivery    *job.Delivery `json:",omitempty"`
	// ChangedAt is when the NATS server stored the record's latest
	// revision, and RunStartedAt when it stored the claim that started
	// the current delivery's run (zero unless processing). The watchdog
	// and the reconciler judge by these server times, never by the
	// timestamps runners write from their own clocks.
	ChangedAt    time.Time
	RunStartedAt time.Time
	// Traceparent names the job's trace, for the spans of what the
	// supervisor does to it.
	Traceparent string `json:",omitempty"`
	// Priority and Deadline are the spec's: which queue holds the job's
	// work, and when the leader's sweep ends it unstarted (expiry).
	Priority job.Priority `json:",omitempty"`
	Deadline time.Time    `json:",omitzero"`
	// Client is who submitted the job (job.Record.Client), for the
	// per-client figures and the list's filter; see bus.RecordClient.
	Client string `json:",omitempty"`
}

func entryOf(rec job.Record, at time.Time) Entry {
	return Entry{JobID: rec.JobID, Status: rec.Status, Model: rec.Spec.Model, Prompt: rec.Spec.Prompt, Runner: rec.Runner,
		Attempts: rec.Attempts, CreatedAt: rec.CreatedAt, StartedAt: rec.StartedAt, CompletedAt: rec.CompletedAt,
		UpdatedAt: rec.UpdatedAt, Delivery: rec.Delivery, ChangedAt: at, Traceparent: rec.Traceparent,
		Priority: rec.Spec.Priority, Deadline: rec.Spec.Deadline, Client: rec.Client}
}

// change is one message of the record bucket's stream.
type change struct {
	key   string
	rev   uint64
	at    time.Time // when the server stored it
	op    jetstream.KeyValueOp
	value []byte
	// rec is value decoded, for puts (err when it does not decode).
	rec job.Record
	err error
}

// newChange makes a change of the bucket, decoding a put's record.
func newChange(key string, rev uint64, at time.Time, op jetstream.KeyValueOp, value []byte) change {
	c := change{key: key, rev: rev, at: at, op: op, value: value}
	if op == jetstream.KeyValuePut {
		c.rec, c.err = jobstore.Decode(value)
	}
	return c
}

// state is the index's view, derived change by change from the bucket's
// stream: the jobs still in flight, the counts, and the window of newest
// jobs for lists. It holds nothing per ended job beyond the window.
//
// Counting needs each job's previous status. The in-flight view and the
// window know it for the jobs they hold. For other jobs (ended, out of the
// window) the record's lineage tells it: history keeps only the latest
// revision, so a reader behind (at start, or slow) misses revisions, and
// SettledAs says what the job last ended as, FirstRevision whether it was
// there when the snapshot this view started from was taken.
type state struct {
	inflight map[string]Entry
	// clients counts inflight per client; change inflight only through
	// hold and drop, which keep the two in step.
	clients inFlightByClient
	tally   tally
	window  window
	// accepted counts, per client, the jobs accepted in the last minute.
	// It is not in the snapshot: a minute after a restart it is whole
	// again.
	accepted acceptances
	// revision is the latest revision applied.
	revision uint64
	// base is the revision of the snapshot the view started from (0: it
	// was built from the bucket), and catchUp the bucket's latest revision
	// when following began: revisions up to it are each key's first
	// sight since base.
	base, catchUp uint64
}

func newState(windowSize int) *state {
	return &state{inflight: map[string]Entry{}, clients: inFlightByClient{}, tally: newTally(), window: newWindow(windowSize), accepted: newAcceptances()}
}

// counted is what a job counted as before a change.
type counted struct {
	status  job.Status
	model   string
	created time.Time
}

// before is what the view counted key as, if anything, judged from what it
// holds, then from the lineage a record or tombstone carries (first: the
// job's creating revision).
func (s *state) before(key string, rev, first uint64, settled job.Status, model string, created time.Time) (counted, bool) {
	if e, ok := s.inflight[key]; ok {
		return counted{e.Status, e.Model, e.CreatedAt}, true
	}
	if e, ok := s.window.get(key); ok {
		return counted{e.Status, e.Model, e.CreatedAt}, true
	}
	if rev <= s.catchUp && first > s.base {
		return counted{}, false // created since the snapshot: not counted yet
	}
	if settled == "" {
		return counted{}, false // never ended before: this is its first sight
	}
	return counted{settled, model, created}, true
}

// apply folds one change into the view and returns the record when the
// change ended a job; now is the reader's clock, for
// the rolling windows only.
func (s *state) apply(c change, now time.Time) (ended job.Record, hasEnded bool, err error) {
	s.revision = max(s.revision, c.rev)
	if c.op != jetstream.KeyValuePut {
		s.forget(c, now)
		return job.Record{}, false, nil
	}
	if c.err != nil {
		return job.Record{}, false, c.err
	}
	rec := c.rec
	if Archivable(c.key, rec) {
		ended, hasEnded = rec, true
	}
	rec.JobID = c.key // the key is the job's id, whatever the body says
	prev, wasCounted := s.before(c.key, c.rev, rec.CreatingRevision(c.rev), rec.SettledAs, rec.Spec.Model, rec.CreatedAt)
	if wasCounted {
		s.tally.count(prev.model, prev.status, prev.created, -1, now)
	}
	s.tally.count(rec.Spec.Model, rec.Status, rec.CreatedAt, 1, now)
	if !wasCounted && rec.Status != job.StatusRejected {
		s.accepted.note(bus.RecordClient(rec.Client), acceptedAt(rec, c.at), now)
	}
	if rec.Status.Terminal() && (!wasCounted || prev.status != rec.Status) {
		s.tally.ended(rec.Status, c.at, now)
		if rec.Status == job.StatusCompleted {
			s.tally.completed(rec)
		}
	}
	e := entryOf(rec, c.at)
	if rec.Status.Terminal() {
		s.drop(c.key)
	} else {
		if rec.Status == job.StatusProcessing {
			e.RunStartedAt = c.at
			// A later write under the same delivery does not restart its clock.
			if was, ok := s.inflight[c.key]; ok && was.Status == job.StatusProcessing && was.Delivery.Same(rec.Delivery) {
				e.RunStartedAt = was.RunStartedAt
			}
		}
		s.hold(e)
	}
	s.window.put(e)
	return ended, hasEnded, nil
}

// forget applies a delete marker. A job purged by an operator (the marker
// carries a tombstone) leaves the counts; a job in flight deleted by hand
// too, since it will never end. An ended record whose retention ran out
// stays counted as what it ended as: the job happened, and S3 keeps it.
func (s *state) forget(c change, now time.Time) {
	if e, ok := s.inflight[c.key]; ok {
		s.tally.count(e.Model, e.Status, e.CreatedAt, -1, now)
	} else if c.op == jetstream.KeyValueDelete { // a purge or TTL marker carries no tombstone
		if t, ok := jobstore.DecodeTombstone(c.value); ok {
			if prev, was := s.before(c.key, c.rev, t.FirstRevision, t.Status, t.Model, t.CreatedAt); was {
				s.tally.count(prev.model, prev.status, prev.created, -1, now)
			}
		}
	}
	s.drop(c.key)
	s.window.remove(c.key)
}

// hold puts e in the in-flight view, in place of what it held of the job.
func (s *state) hold(e Entry) {
	s.drop(e.JobID)
	s.inflight[e.JobID] = e
	s.clients.count(e, 1)
}

// drop takes key out of the in-flight view, if it is there.
func (s *state) drop(key string) {
	if was, ok := s.inflight[key]; ok {
		s.clients.count(was, -1)
		delete(s.inflight, key)
	}
}
