package bus

import (
	"reflect"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"cyberimage/shared/job"
)

var wireAt = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// roundTrip checks that v encodes to exactly want (the bytes on the wire
// stay what older services send and read) and decodes back to v.
func roundTrip[T any](t *testing.T, v T, want string, enc func(T) []byte, dec func([]byte) (T, error)) {
	t.Helper()
	data := enc(v)
	if string(data) != want {
		t.Fatalf("encoded\n%s\nwant\n%s", data, want)
	}
	got, err := dec(data)
	if err != nil || !reflect.DeepEqual(got, v) {
		t.Fatalf("decoded %+v (%v), want %+v", got, err, v)
	}
}

func TestHeartbeatRoundTrip(t *testing.T) {
	hb := Heartbeat{Runner: "host-1", Host: "host", PID: 42, Boot: "b1", Models: []string{"demo"}, Slots: 2, Busy: 1,
		Device: "cuda:0", GPUs: []GPU{{Index: 0, UUID: "GPU-1", Name: "H100", MemoryTotal: 8, MemoryUsed: 4, PowerWatts: 71.5, InUse: true}},
		Started: wireAt, At: wireAt.Add(time.Second), LastReload: "r@1", Dropped: 3,
		Jobs: []HeldJob{{JobID: "01J", Delivery: "5.1", Step: 2, TotalSteps: 8, AckSubject: "$JS.ACK.x"}}}
	roundTrip(t, hb, `{"runner":"host-1","host":"host","pid":42,"boot":"b1","models":["demo"],"slots":2,"busy":1,"device":"cuda:0",`+
		`"gpus":[{"index":0,"uuid":"GPU-1","name":"H100","memory_total_bytes":8,"memory_used_bytes":4,"utilization_percent":0,"temperature_c":0,"power_watts":71.5,"in_use":true}],`+
		`"started":"2026-12-01T10:00:00Z","at":"2026-12-01T10:00:01Z","last_reload":"r@1","dropped":3,`+
		`"jobs":[{"job_id":"01J","delivery":"5.1","step":2,"total_steps":8,"ack_subject":"$JS.ACK.x"}]}`,
		EncodeHeartbeat, DecodeHeartbeat)
}

func TestProgressEventRoundTrip(t *testing.T) {
	ev := ProgressEvent{JobID: "01J", Status: job.StatusProcessing, Step: 3, TotalSteps: 8, Runner: "r1", Attempt: 2, Delivery: "5.1", At: wireAt}
	roundTrip(t, ev, `{"job_id":"01J","status":"processing","step":3,"total_steps":8,"runner":"r1","attempt":2,"delivery":"5.1","at":"2026-12-01T10:00:00Z"}`,
		EncodeProgressEvent, DecodeProgressEvent)
}

func TestControlRoundTrip(t *testing.T) {
	roundTrip(t, DeliveryOrder(ControlAbandon, "01J", "5.1", "stalled", wireAt),
		`{"action":"abandon","delivery":"5.1","expires_at":"2026-12-01T10:01:00Z","job_id":"01J","reason":"stalled","at":"2026-12-01T10:00:00Z"}`,
		EncodeControl, DecodeControl)
	roundTrip(t, ReloadOrder("operator-1", "operator request", wireAt),
		`{"id":"operator-1","action":"reload","expires_at":"2026-12-01T10:01:00Z","reason":"operator request","at":"2026-12-01T10:00:00Z"}`,
		EncodeControl, DecodeControl)
}

func TestAdvisoryRoundTrip(t *testing.T) {
	adv := Advisory{Type: AdvisoryMaxDeliver, Stream: StreamJobs, Consumer: RunnerConsumer("demo"), StreamSeq: 7, Deliveries: 4}
	roundTrip(t, adv, `{"type":"io.nats.jetstream.advisory.v1.max_deliver","stream":"CYBERIMAGE_JOBS","consumer":"gpu-runners-demo","stream_seq":7,"deliveries":4}`,
		EncodeAdvisory, DecodeAdvisory)
}

func TestWorkRoundTrip(t *testing.T) {
	spec := job.Spec{Prompt: "p", Model: "demo", Width: 64, Height: 64, Steps: 1, Guidance: 7.5, Seed: 9, NumImages: 1, RequestID: "q"}
	w := Work{JobID: "01J", Spec: spec, CreatedAt: wireAt, Revision: 3, Traceparent: "00-t", Client: "alice"}
	roundTrip(t, w, `{"job_id":"01J","spec":{"prompt":"p","model":"demo","width":64,"height":64,"steps":1,"guidance":7.5,"seed":9,"num_images":1,"request_id":"q"},`+
		`"created_at":"2026-12-01T10:00:00Z","revision":3,"traceparent":"00-t","client":"alice"}`, EncodeWork, DecodeWork)
	// A re-queue's work carries no revision or creation time.
	rec := job.NewQueued("01J", spec, wireAt, "00-t")
	rec.Client = "alice"
	roundTrip(t, RequeueWork(rec), `{"job_id":"01J","spec":{"prompt":"p","model":"demo","width":64,"height":64,"steps":1,"guidance":7.5,"seed":9,"num_images":1,"request_id":"q"},`+
		`"traceparent":"00-t","client":"alice"}`, EncodeWork, DecodeWork)
	if got := w.QueuedRecord(); !reflect.DeepEqual(got, rec) {
		t.Fatalf("QueuedRecord %+v, want %+v", got, rec)
	}
	msg := WorkMsg(w, RequeueMsgID(w.JobID, 2))
	if msg.Subject != "cyberimage.jobs.demo.01J" || msg.Header.Get(jetstream.MsgIDHeader) != "01J:requeue:2" || string(msg.Data) != string(EncodeWork(w)) {
		t.Fatalf("work message %+v", msg)
	}
}

func TestRequestReplyRoundTrip(t *testing.T) {
	roundTrip(t, RequestReply{JobID: "01J", Status: job.StatusQueued, Duplicate: true}, `{"job_id":"01J","status":"queued","duplicate":true}`,
		EncodeRequestReply, DecodeRequestReply)
	roundTrip(t, RequestReply{Status: job.StatusRejected, Error: &RequestError{Code: job.CodeWidthOutOfRange, Field: "width", Message: "too wide"}},
		`{"status":"rejected","error":{"code":"width_out_of_range","field":"width","message":"too wide"}}`, EncodeRequestReply, DecodeRequestReply)
}

func TestDeadLetterRoundTrip(t *testing.T) {
	d := DeadLetter{Model: "demo.v2", JobID: "01J", Reason: "gave up after 4 deliveries", Deliveries: 4, StreamSeq: 17, Work: []byte(`{"job_id":"01J"}`)}
	msg := EncodeDeadLetter(d)
	if msg.Subject != "cyberimage.dlq.demo.v2.01J" || msg.Header.Get(jetstream.MsgIDHeader) != "dlq:17" || msg.Header.Get("Cyberimage-Deliveries") != "4" {
		t.Fatalf("dead letter message %+v", msg)
	}
	got, err := DecodeDeadLetter(msg.Subject, msg.Header, msg.Data)
	if err != nil || !reflect.DeepEqual(got, d) {
		t.Fatalf("decoded %+v (%v), want %+v", got, err, d)
	}
	msg.Header.Set(HeaderStreamSeq, "x")
	if _, err := DecodeDeadLetter(msg.Subject, msg.Header, msg.Data); err == nil {
		t.Fatal("a dead letter without its stream sequence decoded")
	}
	if _, err := DecodeDeadLetter("cyberimage.dlq.demo.other", msg.Header, msg.Data); err == nil {
		t.Fatal("a dead letter on another job's subject decoded")
	}
}

func TestMessageIDs(t *testing.T) {
	for got, want := range map[string]string{
		QueueMsgID("01J"):                               "01J",
		RequeueMsgID("01J", 3):                          "01J:requeue:3",
		ReconcileMsgID("01J", time.Unix(0, 1234567890)): "01J:reconciled:1234567890",
		DeadLetterMsgID(17):                             "dlq:17",
	} {
		if got != want {
			t.Errorf("message id %q, want %q", got, want)
		}
	}
}

func TestRecordDeleteMarker(t *testing.T) {
	m := RecordDeleteMarker("01J", []byte("{}"))
	if m.Subject != "$KV.cyberimage_jobs.01J" || m.Header.Get("KV-Operation") != "DEL" || string(m.Data) != "{}" {
		t.Fatalf("marker %+v", m)
	}
}
