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

// TestEachRoleIsRefusedWhatItMayNotDo: the server, not the services,
// refuses every action outside a role's allow list.
func TestEachRoleIsRefusedWhatItMayNotDo(t *testing.T) {
	n := testenv.StartNATSWithAuth(t)
	_, adminJS := n.Provisioned(t, "demo")
	ctx := context.Background()
	short := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, time.Second) }
	forgedAdvisory := "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + bus.StreamJobs + "." + bus.RunnerConsumer("demo")
	ack := "$JS.ACK." + bus.StreamJobs + "." + bus.RunnerConsumer("demo") + ".1.1.1.1.0"
	type action struct {
		name string
		do   func(nc *nats.Conn, js jetstream.JetStream) error
	}
	pub := func(subject, payload string) func(*nats.Conn, jetstream.JetStream) error {
		return func(nc *nats.Conn, _ jetstream.JetStream) error { return nc.Publish(subject, []byte(payload)) }
	}
	sub := func(subject string) func(*nats.Conn, jetstream.JetStream) error {
		return func(nc *nats.Conn, _ jetstream.JetStream) error {
			s, err := nc.SubscribeSync(subject)
			if err == nil {
				defer s.Unsubscribe()
			}
			return err
		}
	}
	deleteStream := func(_ *nats.Conn, js jetstream.JetStream) error {
		c, cancel := short()
		defer cancel()
		return js.DeleteStream(c, bus.StreamJobs)
	}
	createStream := func(_ *nats.Conn, js jetstream.JetStream) error {
		c, cancel := short()
		defer cancel()
		_, err := js.CreateStream(c, jetstream.StreamConfig{Name: "ROGUE", Subjects: []string{"rogue.>"}})
		return err
	}
	changeConsumer := func(_ *nats.Conn, js jetstream.JetStream) error {
		c, cancel := short()
		defer cancel()
		_, err := js.CreateOrUpdateConsumer(c, bus.StreamJobs, jetstream.ConsumerConfig{Durable: bus.RunnerConsumer("demo"),
			AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Hour, FilterSubject: "cyberimage.jobs.demo.>"})
		return err
	}
	denied := map[natsauth.Role][]action{
		natsauth.Client: {
			{"publish an order", pub(bus.ControlSubject("runner-1"), `{"action":"reload","id":"x"}`)},
			{"write a record", pub("$KV."+bus.BucketJobs+".J1", "{}")},
			{"delete a stream", deleteStream},
			{"publish an advisory", pub(forgedAdvisory, "{}")},
			{"NAK a delivery", pub(ack, "-NAK")},
			{"queue work directly", pub(bus.JobSubject("demo", "J1"), "{}")},
			{"queue high work", pub(bus.WorkSubject("demo", job.PriorityHigh, "J1"), "{}")},
			{"queue low work", pub(bus.WorkSubject("demo", job.PriorityLow, "J1"), "{}")},
			{"listen to orders", sub("cyberimage.control.>")},
			{"listen to acks", sub(bus.SubjectAcks)},
		},
		natsauth.Runner: {
			{"NAK a delivery it does not hold", pub(ack, "-NAK")},
			{"ack a delivery it does not hold", pub(ack, "+ACK")},
			{"publish an order", pub(bus.ControlSubject("runner-2"), "{}")},
			{"publish an advisory", pub(forgedAdvisory, "{}")},
			{"delete a stream", deleteStream},
			{"create a stream", createStream},
			{"change its consumer", changeConsumer},
			{"dead-letter", pub(bus.DLQSubject("demo", "J1"), "{}")},
			{"queue high work", pub(bus.WorkSubject("demo", job.PriorityHigh, "J1"), "{}")},
			{"queue low work", pub(bus.WorkSubject("demo", job.PriorityLow, "J1"), "{}")},
		},
		natsauth.Ingest: {
			{"NAK a delivery", pub(ack, "-NAK")},
			{"answer someone else's request", pub("_INBOX.someone.else", `{"job_id":"fake"}`)},
			{"publish an order", pub(bus.ControlSubject("runner-1"), "{}")},
			{"delete a stream", deleteStream},
			{"write the lease", pub("$KV."+bus.BucketLeases+".supervisor-leader", "me")},
		},
		natsauth.Supervisor: {
			{"delete a stream", deleteStream},
			{"create a stream", createStream},
			{"change the runners' consumer", changeConsumer},
			{"publish an advisory", pub(forgedAdvisory, "{}")},
			// It may submit requests: POST /v1/jobs does, as a client.
		},
	}
	for role, actions := range denied {
		v := make(testenv.Violations, 16)
		nc, js := n.ConnectAs(t, role, nats.ErrorHandler(v.Note))
		for _, a := range actions {
			if ok, why := v.Refused(t, nc, func() error { return a.do(nc, js) }); !ok {
				t.Errorf("%s may %s: %s", role, a.name, why)
			}
		}
	}
	if _, err := adminJS.Stream(ctx, bus.StreamJobs); err != nil {
		t.Fatalf("the jobs stream survived: %v", err)
	}
	cons, err := adminJS.Consumer(ctx, bus.StreamJobs, bus.RunnerConsumer("demo"))
	if err != nil || cons.CachedInfo().Config.AckWait != bus.DefaultSettings().AckWait {
		t.Fatalf("the runners' consumer is unchanged: %v", err)
	}
}

// TestRolesMayDoTheirWork: what each role needs for a job goes through.
func TestRolesMayDoTheirWork(t *testing.T) {
	n := testenv.StartNATSWithAuth(t)
	_, adminJS := n.Provisioned(t, "demo")
	ctx := context.Background()
	for _, role := range []natsauth.Role{natsauth.Ingest, natsauth.Runner, natsauth.Supervisor} {
		_, js := n.ConnectAs(t, role)
		models := []string{"demo"}
		if role == natsauth.Ingest {
			models = nil
		}
		if err := bus.Verify(ctx, js, bus.DefaultSettings(), models...); err != nil {
			t.Errorf("%s verifies the provisioning: %v", role, err)
		}
		kv, err := js.KeyValue(ctx, bus.BucketJobs)
		if err != nil {
			t.Fatalf("%s opens the job bucket: %v", role, err)
		}
		if _, err := kv.Put(ctx, "J-"+string(role), []byte("{}")); err != nil {
			t.Errorf("%s writes a record: %v", role, err)
		}
		if _, err := kv.Get(ctx, "J-"+string(role)); err != nil {
			t.Errorf("%s reads a record: %v", role, err)
		}
	}
	// A client submits and hears progress.
	client, _ := n.ConnectAs(t, natsauth.Client)
	events, err := client.SubscribeSync(bus.SubjectEventsAll)
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Publish(bus.SubjectRequests, []byte(`{"prompt":"p"}`)); err != nil {
		t.Fatal(err)
	}
	runner, _ := n.ConnectAs(t, natsauth.Runner)
	if err := runner.Publish(bus.EventSubject("J1"), []byte(`{"job_id":"J1"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := events.NextMsg(2 * time.Second); err != nil {
		t.Fatalf("the client hears a runner's event: %v", err)
	}
	st, _ := adminJS.Stream(ctx, bus.StreamRequests)
	info, _ := st.Info(ctx)
	if info.State.Msgs != 1 {
		t.Fatalf("the client's request is in the stream: %d", info.State.Msgs)
	}
}

// TestPriorityClassesUnderEachRole: every class's work goes through each
// role's own rights: ingest queues it, a runner pulls it from its class's
// consumer and acks it, the supervisor looks it up by subject and removes
// it (an expired job's work). That neither a client nor a runner may
// queue it is in TestEachRoleIsRefusedWhatItMayNotDo.
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
}
