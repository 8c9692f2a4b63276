// Package jobstore reads and changes job records in the KV bucket. Every
// change is a compare-and-set on the entry's revision, retried on conflict,
// and checked against job.Allowed (the table of the named transitions), so
// no writer can move a record backwards even when two of them race.
package jobstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
)

// Errors callers branch on.
var (
	// ErrNotFound: no record under that job id.
	ErrNotFound = errors.New("job record not found")
	// ErrExists: Create found a record already there.
	ErrExists = errors.New("job record already exists")
	// ErrTransition: the change would move the record to a status it may
	// not reach from its current one.
	ErrTransition = errors.New("status transition not allowed")
	// ErrUnchanged: the mutate function chose to leave the record alone.
	ErrUnchanged = errors.New("record left unchanged")
)

// maxConflicts bounds CAS retries; more than a handful means something is
// writing the same record in a loop.
const maxConflicts = 16

// Store is the job-record bucket.
type Store struct {
	kv        jetstream.KeyValue
	js        jetstream.JetStream
	retention Retention
}

// Option configures a Store.
type Option func(*Store)

// WithRetention sets how long ended records stay (DefaultRetention if not
// given).
func WithRetention(r Retention) Option { return func(s *Store) { s.retention = r } }

// Open binds to the job bucket, which bus.Ensure created.
func Open(ctx context.Context, js jetstream.JetStream, opts ...Option) (*Store, error) {
	kv, err := js.KeyValue(ctx, bus.BucketJobs)
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", bus.BucketJobs, err)
	}
	s := &Store{kv: kv, js: js, retention: DefaultRetention()}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// KV exposes the bucket for watchers.
func (s *Store) KV() jetstream.KeyValue { return s.kv }

// Get returns a record and its revision.
func (s *Store) Get(ctx context.Context, id string) (job.Record, uint64, error) {
	entry, err := s.kv.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return job.Record{}, 0, ErrNotFound
	}
	if err != nil {
		return job.Record{}, 0, fmt.Errorf("get job %s: %w", id, err)
	}
	rec, err := Decode(entry.Value())
	if err != nil {
		return job.Record{}, 0, fmt.Errorf("job %s: %w", id, err)
	}
	return rec, entry.Revision(), nil
}

// Create stores a new record; ErrExists when the id is taken.
func (s *Store) Create(ctx context.Context, rec job.Record) (uint64, error) {
	if rec.UpdatedAt.IsZero() {
		rec.UpdatedAt = time.Now().UTC()
	}
	rec.FirstRevision, rec.SettledAs = 0, ""
	data, err := Encode(rec)
	if err != nil {
		return 0, err
	}
	var ttl []jetstream.KVCreateOpt
	if d := s.retention.TTL(rec.Status); d > 0 {
		ttl = append(ttl, jetstream.KeyTTL(d))
	}
	rev, err := s.kv.Create(ctx, rec.JobID, data, ttl...)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return 0, ErrExists
	}
	if err != nil {
		return 0, fmt.Errorf("create job %s: %w", rec.JobID, err)
	}
	return rev, nil
}

// Update applies mutate to the current record and writes it back only if
// nobody changed it meanwhile, retrying on conflict. mutate may return
// ErrUnchanged (or any error) to abort; the status change it makes must be
// one of job.Moves (job.Allowed): mutate calls the named transition. It
// returns the record as written.
func (s *Store) Update(ctx context.Context, id string, mutate func(*job.Record) error) (job.Record, error) {
	rec, _, err := s.update(ctx, id, nil, 0, mutate)
	return rec, err
}

// UpdateFrom is Update for a caller that believes it holds the current
// record at revision rev (it wrote or read it last): it saves the read, one
// round trip, and falls back to Update's read-modify-write when someone
// changed the record since. It returns the record and revision written.
func (s *Store) UpdateFrom(ctx context.Context, known job.Record, rev uint64, mutate func(*job.Record) error) (job.Record, uint64, error) {
	return s.update(ctx, known.JobID, &known, rev, mutate)
}

func (s *Store) update(ctx context.Context, id string, known *job.Record, knownRev uint64, mutate func(*job.Record) error) (job.Record, uint64, error) {
	for range maxConflicts {
		var rec job.Record
		var rev uint64
		if known != nil {
			rec, rev, known = *known, knownRev, nil
		} else {
			var err error
			if rec, rev, err = s.Get(ctx, id); err != nil {
				return job.Record{}, 0, err
			}
		}
		from, lineage := rec.Status, rec
		if err := mutate(&rec); err != nil {
			return rec, 0, err
		}
		if rec.Status != from && !job.Allowed(from, rec.Status) {
			return rec, 0, fmt.Errorf("job %s %s → %s: %w", id, from, rec.Status, ErrTransition)
		}
		rec.UpdatedAt = time.Now().UTC()
		stampLineage(&rec, lineage, rev)
		data, err := Encode(rec)
		if err != nil {
			return rec, 0, err
		}
		newRev, err := s.write(ctx, id, data, rev, s.retention.TTL(rec.Status))
		if err != nil {
			if isConflict(err) {
				continue // read the record as it is now and decide again
			}
			return rec, 0, fmt.Errorf("update job %s: %w", id, err)
		}
		return rec, newRev, nil
	}
	return job.Record{}, 0, fmt.Errorf("update job %s: too many concurrent writers", id)
}

// stampLineage records, on the revision about to replace read (the
// record at revision rev), the record's first revision and its latest
// ended status: what a reader that never saw the earlier revisions needs
// to count the job once (see job.Record). Only the jobstore writes them: a
// mutate that replaces the whole record does not reset them.
func stampLineage(rec *job.Record, read job.Record, rev uint64) {
	rec.FirstRevision, rec.SettledAs = read.CreatingRevision(rev), read.SettledAs
	if read.Status.Terminal() {
		rec.SettledAs = read.Status
	}
}

// DeleteEnded removes an ended job's record now, if it is still ended at
// the revision read (ErrTransition when it is not: a re-queue won). The
// delete marker carries a Tombstone, so a reader that never saw the record
// still knows what left; the marker itself expires like a TTL's.
func (s *Store) DeleteEnded(ctx context.Context, id string) error {
	rec, rev, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	if !rec.Status.Terminal() {
		return fmt.Errorf("job %s is %s: %w", id, rec.Status, ErrTransition)
	}
	body := EncodeTombstone(Tombstone{Status: rec.Status, Model: rec.Spec.Model, CreatedAt: rec.CreatedAt, FirstRevision: rec.CreatingRevision(rev)})
	if _, err := s.publishIfLatest(ctx, bus.RecordDeleteMarker(id, body), rev, bus.RecordMarkerTTL); err != nil {
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return fmt.Errorf("job %s changed: %w", id, ErrTransition)
		}
		return fmt.Errorf("delete job %s: %w", id, err)
	}
	return nil
}

// Tombstone is the body of the delete marker DeleteEnded writes: what the
// record was.
type Tombstone struct {
	Status        job.Status `json:"status"`
	Model         string     `json:"model,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	FirstRevision uint64     `json:"first_revision"`
}

// EncodeTombstone is the body of a delete marker (a status, a name, a
// server's time and a number: encoding cannot fail).
func EncodeTombstone(t Tombstone) []byte {
	body, _ := json.Marshal(t)
	return body
}

// DecodeTombstone reads a delete marker's body; false when it is not one
// DeleteEnded wrote (an operator's delete, a TTL's marker).
func DecodeTombstone(data []byte) (Tombstone, bool) {
	var t Tombstone
	if len(data) == 0 || len(data) > MaxRecordBytes || json.Unmarshal(data, &t) != nil || !t.Status.Terminal() {
		return Tombstone{}, false
	}
	return t, true
}

// write stores a record's new revision if rev is still its latest, with a
// TTL when it ends the job: KeyValue.Update takes none, so this publishes
// as Update does, to the key's subject, with the TTL header added.
func (s *Store) write(ctx context.Context, id string, data []byte, rev uint64, ttl time.Duration) (uint64, error) {
	if ttl <= 0 {
		return s.kv.Update(ctx, id, data, rev)
	}
	return s.publishIfLatest(ctx, &nats.Msg{Subject: bus.RecordSubject(id), Data: data}, rev, ttl)
}

// publishIfLatest stores msg on its key's subject with a TTL if rev is
// still the key's latest revision (jetstream.ErrKeyRevisionMismatch when
// it is not), returning the new revision.
func (s *Store) publishIfLatest(ctx context.Context, msg *nats.Msg, rev uint64, ttl time.Duration) (uint64, error) {
	ack, err := s.js.PublishMsg(ctx, msg, jetstream.WithExpectLastSequencePerSubject(rev), jetstream.WithMsgTTL(ttl))
	if err != nil {
		if isWrongLastSequence(err) {
			return 0, jetstream.ErrKeyRevisionMismatch
		}
		return 0, err
	}
	return ack.Sequence, nil
}

// isWrongLastSequence: a publish expecting the key's latest revision found
// another one (the CAS lost).
func isWrongLastSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// MaxRecordBytes bounds a value of the record bucket as a reader takes it
// (a record, a tombstone). Whoever can write to the bucket can write
// anything the server takes, which is up to its max_payload (1 MiB by
// default); a real record is a request of at most job.MaxRequestBytes plus
// a few hundred bytes per attempt, far below.
const MaxRecordBytes = 1 << 20

// ErrTooLarge marks a value refused for its size before it was parsed.
var ErrTooLarge = errors.New("value over the size limit")

// Encode is a record as stored.
func Encode(rec job.Record) ([]byte, error) {
	data, err := json.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("encode job %s: %w", rec.JobID, err)
	}
	return data, nil
}

// Decode parses a stored record.
func Decode(data []byte) (job.Record, error) {
	var rec job.Record
	if len(data) > MaxRecordBytes {
		return rec, fmt.Errorf("decode record: %d bytes, over %d: %w", len(data), MaxRecordBytes, ErrTooLarge)
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		return rec, fmt.Errorf("decode record: %w", err)
	}
	return rec, nil
}

func isConflict(err error) bool { return errors.Is(err, jetstream.ErrKeyRevisionMismatch) }
