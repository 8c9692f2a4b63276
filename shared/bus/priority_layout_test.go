package bus_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/natsauth"
)

// A layout provisioned before priorities (one consumer per model, filter
// cyberimage.jobs.<model>.>, normal work queued on it) is brought up to
// date by Ensure: the normal consumer's filter narrows, the high and low
// consumers appear, the queued work is still delivered, and each class's
// consumer delivers its own class only. Admin provisions; ingest queues
// the work and a runner verifies and pulls it, each with its role's
// rights.
func TestEnsureUpgradesALayoutFromBeforePriorities(t *testing.T) {
	n, admin := authServer(t)
	_, ingest := n.ConnectAs(t, natsauth.Ingest)
	_, runner := n.ConnectAs(t, natsauth.Runner)
	ctx := context.Background()
	s := bus.DefaultSettings()
	streams, normal := bus.LayoutBeforePriorities(s, "demo")
	for _, cfg := range streams {
		if _, err := admin.CreateOrUpdateStream(ctx, cfg); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := admin.CreateOrUpdateConsumer(ctx, bus.StreamJobs, normal); err != nil {
		t.Fatal(err)
	}
	if _, err := ingest.Publish(ctx, bus.JobSubject("demo", "OLD"), bus.EncodeWork(bus.Work{JobID: "OLD", Spec: job.Spec{Model: "demo"}})); err != nil {
		t.Fatal(err)
	}
	if err := bus.Verify(ctx, runner, s, "demo"); !errors.Is(err, bus.ErrSettingsDiffer) || !strings.Contains(err.Error(), "filter") {
		t.Fatalf("the old filter: %v", err)
	}

	provision(t, admin, s, "demo")
	if err := bus.Verify(ctx, runner, s, "demo"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []job.Priority{job.PriorityHigh, job.PriorityLow} {
		w := bus.Work{JobID: "J" + string(p), Spec: job.Spec{Model: "demo", Priority: p}}
		if _, err := ingest.PublishMsg(ctx, bus.WorkMsg(w, bus.QueueMsgID(w.JobID))); err != nil {
			t.Fatal(err)
		}
	}
	want := map[job.Priority][]string{job.PriorityNormal: {"OLD"}, job.PriorityHigh: {"Jhigh"}, job.PriorityLow: {"Jlow"}}
	for p, ids := range want {
		cons, err := runner.Consumer(ctx, bus.StreamJobs, bus.ClassConsumer("demo", p))
		if err != nil {
			t.Fatal(err)
		}
		batch, err := cons.Fetch(10, jetstream.FetchMaxWait(500*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for m := range batch.Messages() {
			w, err := bus.DecodeWork(m.Data())
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
// (admin) and by the services' check (a runner's); a model named twice is
// one set of consumers.
func TestConsumerNamesCollide(t *testing.T) {
	n, admin := authServer(t)
	_, runner := n.ConnectAs(t, natsauth.Runner)
	ctx := context.Background()
	s := bus.DefaultSettings()
	if err := bus.Ensure(ctx, admin, s, "demo", "demo-high"); err == nil || !strings.Contains(err.Error(), "gpu-runners-demo-high") {
		t.Fatalf("colliding models provisioned: %v", err)
	}
	if err := bus.Verify(ctx, runner, s, "demo", "demo-high"); !errors.Is(err, bus.ErrSettingsDiffer) {
		t.Fatalf("colliding models verified: %v", err)
	}
	provision(t, admin, s, "demo", "demo")
	if err := bus.Verify(ctx, runner, s, "demo"); err != nil {
		t.Fatal(err)
	}
}
