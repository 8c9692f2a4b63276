package bus

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
)

// hostile are payloads every decoder must refuse without panicking.
var hostile = []string{"", " ", "\t\n", "null", "[]", "{", "}", `"x"`, "42", "{}{}", `{"a":1} trailing`,
	strings.Repeat("x", MaxMessageBytes+1), "{" + strings.Repeat(`"k":1,`, 10) + `"k":1}`, "\x00\xff"}

// decoders are every bus decoder, for the checks all of them must pass.
var decoders = map[string]func([]byte) error{
	"heartbeat": func(p []byte) error { _, err := DecodeHeartbeat(p); return err },
	"event":     func(p []byte) error { _, err := DecodeProgressEvent(p); return err },
	"order":     func(p []byte) error { _, err := DecodeControl(p); return err },
	"advisory":  func(p []byte) error { _, err := DecodeAdvisory(p); return err },
	"work":      func(p []byte) error { _, err := DecodeWork(p); return err },
	"reply":     func(p []byte) error { _, err := DecodeRequestReply(p); return err },
}

func TestDecodersRefuseHostileInput(t *testing.T) {
	for _, p := range hostile {
		for name, decode := range decoders {
			if err := decode([]byte(p)); !errors.Is(err, ErrMalformed) {
				t.Errorf("%s %q: %v", name, short(p), err)
			}
		}
	}
}

func short(s string) string {
	if len(s) > 20 {
		return s[:20] + "…"
	}
	return s
}

func TestDecodersRefuseBadValues(t *testing.T) {
	for _, bad := range []Control{{Action: ControlAbandon, JobID: "01J"}, {Action: "format-disk"}, {Action: ControlReload},
		{Action: ControlCancel, JobID: "a.b", Delivery: "1.1"}} {
		if _, err := DecodeControl(EncodeControl(bad)); err == nil {
			t.Fatalf("order %+v accepted", bad)
		}
	}
	for _, bad := range []string{
		`{"type":"io.nats.jetstream.advisory.v1.max_deliver","stream":"OTHER","stream_seq":7,"deliveries":4}`,
		`{"type":"something.else","stream_seq":7,"deliveries":4}`,
		`{"type":"io.nats.jetstream.advisory.v1.terminated","stream_seq":0,"deliveries":1}`,
		`{"type":"io.nats.jetstream.advisory.v1.terminated","consumer":"ingest","stream_seq":3,"deliveries":1}`,
	} {
		if _, err := DecodeAdvisory([]byte(bad)); err == nil {
			t.Fatalf("advisory %s accepted", bad)
		}
	}
	if _, err := DecodeRequestReply([]byte(`{"duplicate":true}`)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("an answer with neither job nor error: %v", err)
	}
}

func TestOrderExpiry(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	c := Control{ExpiresAt: now}
	if c.Expired(now.Add(OrderClockTolerance)) || !c.Expired(now.Add(OrderClockTolerance+time.Second)) {
		t.Fatal("expiry with tolerance")
	}
	if (Control{}).Expired(now) {
		t.Fatal("an order without expiry is taken")
	}
}

func TestGuardRecoversAndCounts(t *testing.T) {
	d := NewDrops(zap.NewNop(), time.Hour)
	h := Guard(d, "test", func(*nats.Msg) { panic("boom") })
	for range 3 {
		h(&nats.Msg{Subject: "x"})
	}
	d.Note("junk:heartbeat", "x", ErrMalformed)
	if d.Total() != 4 {
		t.Fatalf("total %d", d.Total())
	}
	if c := d.Counts(); len(c) != 2 || c[0].Kind != "junk:heartbeat" || c[1].Count != 3 {
		t.Fatalf("counts %+v", c)
	}
}

// The fuzz targets: no payload makes a decoder panic, whatever one accepts
// satisfies what its handlers rely on, and what it accepts is sent on as
// it was read: encoded again, it decodes to the same message.

// seedHostile adds the shorter hostile payloads to a fuzz target's corpus.
func seedHostile(f *testing.F) {
	for _, h := range hostile[:8] {
		f.Add([]byte(h))
	}
}

// reencodes checks that v, as a decoder accepted it, encodes to a message
// the decoder takes back unchanged.
func reencodes[T any](t *testing.T, v T, enc func(T) []byte, dec func([]byte) (T, error)) {
	t.Helper()
	data := enc(v)
	if len(data) > MaxMessageBytes {
		return // escaping grew it past a limit: the sender's to mind
	}
	again, err := dec(data)
	if err != nil {
		t.Fatalf("%+v encoded as %s, which does not decode: %v", v, data, err)
	}
	if second := enc(again); !bytes.Equal(second, data) {
		t.Fatalf("encoded %s, then %s", data, second)
	}
}

func FuzzDecodeHeartbeat(f *testing.F) {
	f.Add([]byte(`{"runner":"r","slots":1,"models":["demo"]}`))
	seedHostile(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := DecodeHeartbeat(data)
		if err == nil && (!ValidToken(h.Runner) || h.Slots < 0 || h.Busy < 0) {
			t.Fatalf("accepted %+v", h)
		}
		if err == nil {
			reencodes(t, h, EncodeHeartbeat, DecodeHeartbeat)
		}
	})
}

func FuzzDecodeProgressEvent(f *testing.F) {
	f.Add([]byte(`{"job_id":"j","status":"processing","step":1,"total_steps":2}`))
	seedHostile(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := DecodeProgressEvent(data)
		if err == nil && (!ValidToken(e.JobID) || e.Step < 0) {
			t.Fatalf("accepted %+v", e)
		}
		if err == nil {
			reencodes(t, e, EncodeProgressEvent, DecodeProgressEvent)
		}
	})
}

func FuzzDecodeControl(f *testing.F) {
	f.Add([]byte(`{"action":"abandon","job_id":"j","delivery":"1.1"}`))
	f.Add([]byte(`{"action":"reload","id":"r@1"}`))
	f.Add([]byte(`{"action":"drain"}`))
	seedHostile(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := DecodeControl(data)
		if err != nil {
			return
		}
		reencodes(t, c, EncodeControl, DecodeControl)
		switch c.Action {
		case ControlAbandon, ControlCancel:
			if !ValidToken(c.JobID) || c.Delivery == "" {
				t.Fatalf("accepted %+v", c)
			}
		case ControlReload:
			if c.ID == "" {
				t.Fatalf("accepted %+v", c)
			}
		case ControlDrain, ControlUndrain:
		default:
			t.Fatalf("accepted unknown order %+v", c)
		}
	})
}

func FuzzDecodeAdvisory(f *testing.F) {
	f.Add([]byte(`{"type":"io.nats.jetstream.advisory.v1.max_deliver","stream_seq":7,"deliveries":4}`))
	seedHostile(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := DecodeAdvisory(data)
		if err == nil && (a.StreamSeq == 0 || a.Deliveries == 0) {
			t.Fatalf("accepted %+v", a)
		}
		if err == nil {
			reencodes(t, a, EncodeAdvisory, DecodeAdvisory)
		}
	})
}

func FuzzDecodeWork(f *testing.F) {
	f.Add([]byte(`{"job_id":"j","spec":{"model":"demo"},"revision":2}`))
	seedHostile(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		w, err := DecodeWork(data)
		if err == nil && !ValidToken(w.JobID) {
			t.Fatalf("accepted %+v", w)
		}
		if err == nil {
			reencodes(t, w, EncodeWork, DecodeWork)
		}
	})
}

func FuzzDecodeRequestReply(f *testing.F) {
	f.Add(EncodeRequestReply(RequestReply{JobID: "01J", Status: "queued"}))
	f.Add([]byte(`{"status":"rejected","error":{"code":"too_large","message":"m"}}`))
	seedHostile(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeRequestReply(data)
		if err != nil {
			return
		}
		if r.JobID == "" && r.Error == nil {
			t.Fatalf("accepted %+v", r)
		}
		reencodes(t, r, EncodeRequestReply, DecodeRequestReply)
	})
}

// FuzzDecodeDeadLetter: whatever headers and subject a dead letter comes
// with, DecodeDeadLetter does not panic, and what it accepts names a valid
// job on that job's subject and encodes to the same message again.
func FuzzDecodeDeadLetter(f *testing.F) {
	f.Add("cyberimage.dlq.demo.01J", "01J", "4", "17", []byte(`{"job_id":"01J"}`))
	f.Add("cyberimage.dlq.01J", "01J", "-1", "x", []byte(nil))
	f.Add("other.demo.01J", "", "", "", []byte("{}"))
	f.Fuzz(func(t *testing.T, subject, jobID, deliveries, seq string, data []byte) {
		h := nats.Header{}
		h.Set(HeaderJobID, jobID)
		h.Set(HeaderDeliveries, deliveries)
		h.Set(HeaderStreamSeq, seq)
		d, err := DecodeDeadLetter(subject, h, data)
		if err != nil {
			return
		}
		if !ValidToken(d.JobID) || DLQSubject(d.Model, d.JobID) != subject {
			t.Fatalf("accepted %+v from %q", d, subject)
		}
		m := EncodeDeadLetter(d)
		again, err := DecodeDeadLetter(m.Subject, m.Header, m.Data)
		if err != nil || again.JobID != d.JobID || again.Model != d.Model || again.Deliveries != d.Deliveries || again.StreamSeq != d.StreamSeq {
			t.Fatalf("%+v encoded and decoded as %+v (%v)", d, again, err)
		}
	})
}
