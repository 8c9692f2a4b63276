package bus

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"cyberimage/shared/job"
)

// hostile are payloads every decoder must refuse without panicking.
var hostile = []string{"", " ", "\t\n", "null", "[]", "{", "}", `"x"`, "42", "{}{}", `{"a":1} trailing`,
	strings.Repeat("x", MaxMessageBytes+1), "{" + strings.Repeat(`"k":1,`, 10) + `"k":1}`, "\x00\xff"}

func TestDecodersRefuseHostileInput(t *testing.T) {
	for _, p := range hostile {
		if _, err := DecodeHeartbeat([]byte(p)); !errors.Is(err, ErrMalformed) {
			t.Errorf("heartbeat %q: %v", short(p), err)
		}
		if _, err := DecodeProgressEvent([]byte(p)); !errors.Is(err, ErrMalformed) {
			t.Errorf("event %q: %v", short(p), err)
		}
		if _, err := DecodeControl([]byte(p)); !errors.Is(err, ErrMalformed) {
			t.Errorf("order %q: %v", short(p), err)
		}
		if _, err := DecodeAdvisory([]byte(p)); !errors.Is(err, ErrMalformed) {
			t.Errorf("advisory %q: %v", short(p), err)
		}
		if _, err := DecodeWork([]byte(p)); !errors.Is(err, ErrMalformed) {
			t.Errorf("work %q: %v", short(p), err)
		}
	}
}

func short(s string) string {
	if len(s) > 20 {
		return s[:20] + "…"
	}
	return s
}

func TestDecodersRoundTrip(t *testing.T) {
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	hb := Heartbeat{Runner: "host-1", Models: []string{"demo"}, Slots: 2, Busy: 1, At: at, LastReload: "r@1"}
	data, _ := json.Marshal(hb)
	got, err := DecodeHeartbeat(data)
	if err != nil || got.Runner != hb.Runner || got.LastReload != "r@1" || !got.At.Equal(at) {
		t.Fatalf("heartbeat: %+v %v", got, err)
	}
	ev := ProgressEvent{JobID: "01J", Status: "processing", Step: 3, TotalSteps: 8, Delivery: "5.1"}
	data, _ = json.Marshal(ev)
	if got, err := DecodeProgressEvent(data); err != nil || got != ev {
		t.Fatalf("event: %+v %v", got, err)
	}
	order := Control{Action: ControlAbandon, JobID: "01J", Delivery: "5.1", ExpiresAt: at.Add(OrderTTL)}
	data, _ = json.Marshal(order)
	if got, err := DecodeControl(data); err != nil || got.Delivery != "5.1" || !got.ExpiresAt.Equal(order.ExpiresAt) {
		t.Fatalf("order: %+v %v", got, err)
	}
	for _, bad := range []Control{{Action: ControlAbandon, JobID: "01J"}, {Action: "format-disk"}, {Action: ControlReload},
		{Action: ControlCancel, JobID: "a.b", Delivery: "1.1"}} {
		data, _ = json.Marshal(bad)
		if _, err := DecodeControl(data); err == nil {
			t.Fatalf("order %+v accepted", bad)
		}
	}
	adv := `{"type":"io.nats.jetstream.advisory.v1.max_deliver","stream":"CYBERIMAGE_JOBS","consumer":"gpu-runners-demo","stream_seq":7,"deliveries":4}`
	if got, err := DecodeAdvisory([]byte(adv)); err != nil || got.StreamSeq != 7 || got.Deliveries != 4 {
		t.Fatalf("advisory: %+v %v", got, err)
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
	work := job.Work{JobID: "01J", Spec: job.Spec{Model: "demo"}, Revision: 3}
	data, _ = json.Marshal(work)
	if got, err := DecodeWork(data); err != nil || got.JobID != "01J" || got.Revision != 3 {
		t.Fatalf("work: %+v %v", got, err)
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

// The fuzz targets: no payload makes a decoder panic, and whatever one
// accepts satisfies what its handlers rely on.

func FuzzDecodeHeartbeat(f *testing.F) {
	f.Add([]byte(`{"runner":"r","slots":1,"models":["demo"]}`))
	for _, h := range hostile[:8] {
		f.Add([]byte(h))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := DecodeHeartbeat(data)
		if err == nil && (!ValidToken(h.Runner) || h.Slots < 0 || h.Busy < 0) {
			t.Fatalf("accepted %+v", h)
		}
	})
}

func FuzzDecodeProgressEvent(f *testing.F) {
	f.Add([]byte(`{"job_id":"j","status":"processing","step":1,"total_steps":2}`))
	for _, h := range hostile[:8] {
		f.Add([]byte(h))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := DecodeProgressEvent(data)
		if err == nil && (!ValidToken(e.JobID) || e.Step < 0) {
			t.Fatalf("accepted %+v", e)
		}
	})
}

func FuzzDecodeControl(f *testing.F) {
	f.Add([]byte(`{"action":"abandon","job_id":"j","delivery":"1.1"}`))
	f.Add([]byte(`{"action":"reload","id":"r@1"}`))
	for _, h := range hostile[:8] {
		f.Add([]byte(h))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := DecodeControl(data)
		if err != nil {
			return
		}
		switch c.Action {
		case ControlAbandon, ControlCancel:
			if !ValidToken(c.JobID) || c.Delivery == "" {
				t.Fatalf("accepted %+v", c)
			}
		case ControlReload:
			if c.ID == "" {
				t.Fatalf("accepted %+v", c)
			}
		default:
			t.Fatalf("accepted unknown order %+v", c)
		}
	})
}

func FuzzDecodeAdvisory(f *testing.F) {
	f.Add([]byte(`{"type":"io.nats.jetstream.advisory.v1.max_deliver","stream_seq":7,"deliveries":4}`))
	for _, h := range hostile[:8] {
		f.Add([]byte(h))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := DecodeAdvisory(data)
		if err == nil && (a.StreamSeq == 0 || a.Deliveries == 0) {
			t.Fatalf("accepted %+v", a)
		}
	})
}

func FuzzDecodeWork(f *testing.F) {
	f.Add([]byte(`{"job_id":"j","spec":{"model":"demo"},"revision":2}`))
	for _, h := range hostile[:8] {
		f.Add([]byte(h))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		w, err := DecodeWork(data)
		if err == nil && !ValidToken(w.JobID) {
			t.Fatalf("accepted %+v", w)
		}
	})
}
