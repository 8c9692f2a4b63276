package natsauth_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/natsauth"
	"cyberimage/shared/testenv"
)

// TestPriorityClassesUnderEachRole: every class's work goes through each
// role's own rights: ingest queues it, a runner pulls it from its class's
// consumer and acks it, the supervisor looks it up by subject and removes
// it (an expired job's work); neither a client nor a runner may queue it.
func TestPriorityClassesUnderEachRole(t *testing.T) {
	n := testenv.StartNATSWithAuth(t)
	n.Provisioned(t, "demo")
	ctx := context.Background()
	_, ingestJS := n.ConnectAs(t, natsauth.Ingest)
	_, runnerJS := n.ConnectAs(t, natsauth.Runner)
	_, supJS := n.ConnectAs(t, natsauth.Supervisor)
	for _, p := range job.Priorities() {
		for _, id := range []string{"RUN" + string(p), "DEL" + string(p)} {
			w := bus.Work{JobID: id, Spec: job.Spec{Model: "demo", Priority: p}}
			if _, err := ingestJS.PublishMsg(ctx, bus.WorkMsg(w, bus.QueueMsgID(id))); err != nil {
				t.Fatalf("ingest queues %s work: %v", p, err)
			}
		}
		stream, err := supJS.Stream(ctx, bus.StreamJobs)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := stream.GetLastMsgForSubject(ctx, bus.WorkSubject("demo", p, "DEL"+string(p)))
		if err != nil {
			t.Fatalf("the supervisor looks %s work up: %v", p, err)
		}
		if err := stream.DeleteMsg(ctx, msg.Sequence); err != nil {
			t.Fatalf("the supervisor removes %s work: %v", p, err)
		}
		cons, err := runnerJS.Consumer(ctx, bus.StreamJobs, bus.ClassConsumer("demo", p))
		if err != nil {
			t.Fatalf("a runner binds the %s consumer: %v", p, err)
		}
		batch, err := cons.Fetch(1, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for m := range batch.Messages() {
			if err := m.DoubleAck(ctx); err != nil {
				t.Fatalf("a runner acks its %s delivery: %v", p, err)
			}
			got++
		}
		if got != 1 {
			t.Fatalf("a runner pulled %d %s jobs, want 1", got, p)
		}
	}
	for _, role := range []natsauth.Role{natsauth.Client, natsauth.Runner} {
		v := make(testenv.Violations, 4)
		nc, _ := n.ConnectAs(t, role, nats.ErrorHandler(v.Note))
		for _, p := range []job.Priority{job.PriorityHigh, job.PriorityLow} {
			if ok, why := v.Refused(t, nc, func() error { return nc.Publish(bus.WorkSubject("demo", p, "J1"), []byte("{}")) }); !ok {
				t.Errorf("%s may queue %s work: %s", role, p, why)
			}
		}
	}
}
