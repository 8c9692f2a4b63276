package jobstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"cyberimage/shared/job"
)

// Whoever can write to the record bucket can put anything there; every
// reader (the index, the archive, the reconciler) decodes with Decode and
// DecodeTombstone, so these are the bucket's trust boundary.

// realRecord is a record as the pipeline writes one, every optional part
// filled, to seed the fuzzers with a real encoding.
func realRecord() job.Record {
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	return job.Record{JobID: "01JABCDEFGHJKMNPQRSTVWXYZ0", Status: job.StatusFailed, Attempts: 2, Runner: "host-1",
		Spec:      job.Spec{Prompt: "a cat", Model: "demo", Width: 512, Height: 512, Steps: 20, Guidance: 7.5, NumImages: 1},
		Images:    []string{"images/01J/0.png"},
		Error:     &job.Failure{Code: "model_error", Message: "out of memory"},
		CreatedAt: at, StartedAt: job.UTC(at.Add(time.Second)), CompletedAt: job.UTC(at.Add(time.Minute)),
		Stages:     job.Stages{QueueWaitMS: 1.5, InferenceMS: 900, BatchSize: 1},
		Delivery:   &job.Delivery{StreamSeq: 7, Delivered: 2, Runner: "host-1", StartedAt: at, AckSubject: "$JS.ACK.a.b.2.7.7.1.0"},
		Recoveries: []job.Recovery{{At: at, Attempt: 1, Runner: "host-2", Delivery: "7.1", Reason: "stalled"}},
		Requeues:   1, UpdatedAt: at, Traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
		FirstRevision: 3, SettledAs: job.StatusFailed}
}

func TestRecordAndTombstoneRoundTrip(t *testing.T) {
	rec := realRecord()
	data, err := Encode(rec)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := Decode(data); err != nil || !reflect.DeepEqual(got, rec) {
		t.Fatalf("record decoded as %+v (%v)", got, err)
	}
	tomb := Tombstone{Status: job.StatusCompleted, Model: "demo", CreatedAt: rec.CreatedAt, FirstRevision: 3}
	if got, ok := DecodeTombstone(EncodeTombstone(tomb)); !ok || got != tomb {
		t.Fatalf("tombstone decoded as %+v (%v)", got, ok)
	}
}

func TestDecodeRefusesOversizeValues(t *testing.T) {
	// A valid record padded past the limit: refused for its size, not for
	// its shape.
	rec := realRecord()
	rec.Spec.Prompt = strings.Repeat("x", MaxRecordBytes)
	data, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(data); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("record of %d bytes: %v, want ErrTooLarge", len(data), err)
	}
	tomb := `{"status":"completed","model":"` + strings.Repeat("m", MaxRecordBytes) + `"}`
	if _, ok := DecodeTombstone([]byte(tomb)); ok {
		t.Fatalf("tombstone of %d bytes accepted", len(tomb))
	}
	rec.Spec.Prompt = "a cat"
	data, _ = json.Marshal(rec)
	if got, err := Decode(data); err != nil || got.JobID != rec.JobID {
		t.Fatalf("a real record: %+v %v", got, err)
	}
}

// FuzzDecodeRecord: no value makes Decode panic; what it accepts is
// within the limit, and encoding it again gives a value that decodes to
// the same encoding (what a reader keeps is what a writer would write).
func FuzzDecodeRecord(f *testing.F) {
	real, _ := json.Marshal(realRecord())
	f.Add(real)
	f.Add([]byte(`{"job_id":"J","status":"queued","request":{"prompt":"p"},"created_at":"2026-12-01T10:00:00+01:00"}`))
	for _, s := range []string{"", "null", "[]", "{", `{"status":7}`, `{"created_at":"yesterday"}`, `{"stages":{"inference_ms":1e999}}`,
		`{"job_id":"\ud800"}`, `{} trailing`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, err := Decode(data)
		if err != nil {
			if len(data) > MaxRecordBytes && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("oversize value refused as %v", err)
			}
			return
		}
		if len(data) > MaxRecordBytes {
			t.Fatalf("accepted %d bytes", len(data))
		}
		roundTrip(t, rec, Encode, Decode)
	})
}

// FuzzDecodeTombstone: no body makes DecodeTombstone panic; what it
// accepts names an ended status, is within the limit, and round-trips.
func FuzzDecodeTombstone(f *testing.F) {
	rec := realRecord()
	real, _ := json.Marshal(Tombstone{Status: rec.Status, Model: rec.Spec.Model, CreatedAt: rec.CreatedAt, FirstRevision: 3})
	f.Add(real)
	for _, s := range []string{"", "null", `{"status":"queued"}`, `{"status":"completed","created_at":1}`, `{"status":"cancelled"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tomb, ok := DecodeTombstone(data)
		if !ok {
			if tomb != (Tombstone{}) {
				t.Fatalf("refused body left %+v", tomb)
			}
			return
		}
		if !tomb.Status.Terminal() || len(data) > MaxRecordBytes {
			t.Fatalf("accepted %+v from %d bytes", tomb, len(data))
		}
		roundTrip(t, tomb, func(t Tombstone) ([]byte, error) { return EncodeTombstone(t), nil }, func(b []byte) (Tombstone, error) {
			got, ok := DecodeTombstone(b)
			if !ok {
				return got, errors.New("refused")
			}
			return got, nil
		})
	})
}

// roundTrip checks that v, encoded, decodes again and encodes the same.
// Encodings are compared rather than values: a time's location or an
// invalid UTF-8 string may change form once, never twice.
func roundTrip[T any](t *testing.T, v T, encode func(T) ([]byte, error), decode func([]byte) (T, error)) {
	t.Helper()
	once, err := encode(v)
	if err != nil {
		return // a time outside what JSON can hold: nothing a writer would store
	}
	again, err := decode(once)
	if err != nil {
		t.Fatalf("own encoding %s refused: %v", once, err)
	}
	twice, err := encode(again)
	if err != nil || !bytes.Equal(once, twice) {
		t.Fatalf("round trip changed the value:\n%s\n%s (%v)", once, twice, err)
	}
}
