package natsauth_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"cyberimage/shared/bus"
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
