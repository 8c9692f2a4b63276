package bus

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"cyberimage/shared/job"
)

// Normal work keeps the subject and consumer it had before priorities;
// high and low work add the class as a token of its own, and no class's
// filter matches another class's subjects (or another model's).
func TestClassSubjectsAndFilters(t *testing.T) {
	if got := WorkSubject("demo", job.PriorityNormal, "J1"); got != "cyberimage.jobs.demo.J1" || got != JobSubject("demo", "J1") {
		t.Fatalf("normal subject %q", got)
	}
	if got := WorkSubject("demo", "", "J1"); got != JobSubject("demo", "J1") {
		t.Fatalf("a spec without priority is queued as normal: %q", got)
	}
	if got := WorkSubject("demo", job.PriorityHigh, "J1"); got != "cyberimage.jobs.demo.high.J1" {
		t.Fatalf("high subject %q", got)
	}
	if RunnerConsumer("demo") != "gpu-runners-demo" || ClassConsumer("demo", job.PriorityNormal) != "gpu-runners-demo" ||
		ClassConsumer("demo", job.PriorityLow) != "gpu-runners-demo-low" {
		t.Fatalf("consumers %s %s", RunnerConsumer("demo"), ClassConsumer("demo", job.PriorityLow))
	}
	// A model named "high" is no trouble: its subjects have one token fewer.
	subjects := []string{}
	for _, model := range []string{"demo", "high", "low"} {
		for _, p := range job.Priorities() {
			subjects = append(subjects, WorkSubject(model, p, "J1"))
		}
	}
	for _, model := range []string{"demo", "high", "low"} {
		for _, p := range job.Priorities() {
			filter, own := classFilter(model, p), WorkSubject(model, p, "J1")
			for _, subj := range subjects {
				if got, want := server.SubjectsCollide(filter, subj), subj == own; got != want {
					t.Errorf("filter %s matches %s: %v, want %v", filter, subj, got, want)
				}
			}
		}
	}
}

// The supervisor acts on acks and advisories of every class's consumer,
// and of nothing else.
func TestEveryClassConsumerIsARunnersConsumer(t *testing.T) {
	for _, p := range job.Priorities() {
		name := ClassConsumer("demo", p)
		ack := "$JS.ACK." + StreamJobs + "." + name + ".2.17.40.1733000000000000000.0"
		if err := CheckJobDelivery(ack, 17, 2); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		adv := Advisory{Type: AdvisoryMaxDeliver, Stream: StreamJobs, Consumer: name, StreamSeq: 17, Deliveries: 5}
		if _, err := DecodeAdvisory(EncodeAdvisory(adv)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := CheckJobDelivery("$JS.ACK."+StreamJobs+".ingest.2.17.40.1733000000000000000.0", 17, 2); err == nil {
		t.Error("an ack subject of another consumer was accepted")
	}
}

// Work carries the job's class and deadline in its spec, byte for byte,
// is queued on its class's subject, and QueuedRecord keeps both (the
// runner's one-write claim must not drop them from the record).
func TestWorkWithScheduleRoundTrip(t *testing.T) {
	deadline := wireAt.Add(90 * time.Second)
	spec := job.Spec{Prompt: "p", Model: "demo", Width: 64, Height: 64, Steps: 1, Seed: 9, NumImages: 1, Priority: job.PriorityHigh, Deadline: deadline}
	w := Work{JobID: "01J", Spec: spec, CreatedAt: wireAt, Revision: 3}
	roundTrip(t, w, `{"job_id":"01J","spec":{"prompt":"p","model":"demo","width":64,"height":64,"steps":1,"guidance":0,"seed":9,"num_images":1,`+
		`"priority":"high","deadline":"2026-12-01T10:01:30Z"},"created_at":"2026-12-01T10:00:00Z","revision":3}`, EncodeWork, DecodeWork)
	if got := WorkMsg(w, QueueMsgID(w.JobID)).Subject; got != "cyberimage.jobs.demo.high.01J" {
		t.Fatalf("subject %q", got)
	}
	if rec := w.QueuedRecord(); rec.Spec.Priority != job.PriorityHigh || !rec.Spec.Deadline.Equal(deadline) {
		t.Fatalf("queued record %+v", rec.Spec)
	}
	if RequeueWork(w.QueuedRecord()).Spec != spec {
		t.Fatal("a re-queue lost the schedule")
	}
	// Decoded from the wire, the spec equals the one encoded (the runner
	// compares its record's spec with the work's).
	got, err := DecodeWork(EncodeWork(w))
	if err != nil || got.Spec != spec {
		t.Fatalf("decoded spec %+v (%v)", got.Spec, err)
	}
}
