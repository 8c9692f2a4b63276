package bus

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

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

// A layout provisioned before priorities (one consumer per model, filter
// cyberimage.jobs.<model>.>, normal work queued on it) is brought up to
// date by Ensure: the normal consumer's filter narrows, the high and low
// consumers appear, the queued work is still delivered, and each class's
// consumer delivers its own class only.
func TestEnsureUpgradesALayoutFromBeforePriorities(t *testing.T) {
	js := startJetStream(t)
	ctx := context.Background()
	s := DefaultSettings()
	old := desired(s, "demo")
	for _, cfg := range old.streams {
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			t.Fatal(err)
		}
	}
	normal := runnerConsumer(s, "demo", job.PriorityNormal).cfg
	normal.FilterSubject = "cyberimage.jobs.demo.>"
	if _, err := js.CreateOrUpdateConsumer(ctx, StreamJobs, normal); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, JobSubject("demo", "OLD"), EncodeWork(Work{JobID: "OLD", Spec: job.Spec{Model: "demo"}})); err != nil {
		t.Fatal(err)
	}
	if err := Verify(ctx, js, s, "demo"); !errors.Is(err, ErrSettingsDiffer) || !strings.Contains(err.Error(), "filter") {
		t.Fatalf("the old filter: %v", err)
	}

	if err := Ensure(ctx, js, s, "demo"); err != nil {
		t.Fatal(err)
	}
	if err := Verify(ctx, js, s, "demo"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []job.Priority{job.PriorityHigh, job.PriorityLow} {
		w := Work{JobID: "J" + string(p), Spec: job.Spec{Model: "demo", Priority: p}}
		if _, err := js.PublishMsg(ctx, WorkMsg(w, QueueMsgID(w.JobID))); err != nil {
			t.Fatal(err)
		}
	}
	want := map[job.Priority][]string{job.PriorityNormal: {"OLD"}, job.PriorityHigh: {"Jhigh"}, job.PriorityLow: {"Jlow"}}
	for p, ids := range want {
		cons, err := js.Consumer(ctx, StreamJobs, ClassConsumer("demo", p))
		if err != nil {
			t.Fatal(err)
		}
		batch, err := cons.Fetch(10, jetstream.FetchMaxWait(500*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for m := range batch.Messages() {
			w, err := DecodeWork(m.Data())
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, w.JobID)
			_ = m.Ack()
		}
		if !slices.Equal(got, ids) {
			t.Errorf("%s consumer delivered %v, want %v", p, got, ids)
		}
	}
}

// Models whose consumers would share a name are refused by provisioning
// and by the services' check; a model named twice is one set of consumers.
func TestConsumerNamesCollide(t *testing.T) {
	js := startJetStream(t)
	ctx := context.Background()
	s := DefaultSettings()
	if err := Ensure(ctx, js, s, "demo", "demo-high"); err == nil || !strings.Contains(err.Error(), "gpu-runners-demo-high") {
		t.Fatalf("colliding models provisioned: %v", err)
	}
	if err := Verify(ctx, js, s, "demo", "demo-high"); !errors.Is(err, ErrSettingsDiffer) {
		t.Fatalf("colliding models verified: %v", err)
	}
	if err := Ensure(ctx, js, s, "demo", "demo"); err != nil {
		t.Fatal(err)
	}
	if err := Verify(ctx, js, s, "demo"); err != nil {
		t.Fatal(err)
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
