package natsauth_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"cyberimage/shared/bus"
	"cyberimage/shared/natsauth"
	"cyberimage/shared/testenv"
)

// TestNoOneReadsAnothersInbox: the spy who subscribed to _INBOX.> and
// heard runners' deliveries, the supervisor's record feed and other
// clients' answers is refused, as is every subscription under another
// identity's prefix; each identity may subscribe to its own.
func TestNoOneReadsAnothersInbox(t *testing.T) {
	n := testenv.StartNATSWithAuth(t)
	type spy struct {
		role    natsauth.Role
		name    string
		subject string
	}
	for _, s := range []spy{
		{natsauth.Client, "default", "_INBOX.>"},
		{natsauth.Client, "default", "_INBOX.*.>"},
		{natsauth.Client, "default", bus.InboxSubjects("client", "alice")},
		{natsauth.Client, "default", bus.InboxSubjects("runner", "gpu-0")},
		{natsauth.Client, "default", bus.InboxSubjects("supervisor", "supervisor")},
		{natsauth.Runner, "gpu-1", "_INBOX.>"},
		{natsauth.Runner, "gpu-1", bus.InboxSubjects("runner", "gpu-0")},
		{natsauth.Runner, "gpu-1", bus.ControlSubject("gpu-0")},
		{natsauth.Runner, "gpu-1", "cyberimage.control.>"},
		{natsauth.Ingest, "ingest", "_INBOX.>"},
		{natsauth.Ingest, "ingest", bus.InboxSubjects("client", "default")},
		{natsauth.Supervisor, "supervisor", bus.InboxSubjects("runner", "gpu-0")},
	} {
		v := make(testenv.Violations, 4)
		nc, _ := n.ConnectAsIdentity(t, s.role, s.name, nats.ErrorHandler(v.Note))
		if ok, why := v.Refused(t, nc, func() error { _, err := nc.SubscribeSync(s.subject); return err }); !ok {
			t.Errorf("%s %s may subscribe to %s: %s", s.role, s.name, s.subject, why)
		}
		own := bus.InboxSubjects(string(s.role), s.name)
		if ok, why := v.Refused(t, nc, func() error { _, err := nc.SubscribeSync(own); return err }); ok {
			t.Errorf("%s %s may not subscribe to its own inbox %s: %s", s.role, s.name, own, why)
		}
	}
}

// TestARunnerSpeaksOnlyForItself: a runner's credentials name it; it may
// not forge another runner's heartbeat, and it may publish its own.
func TestARunnerSpeaksOnlyForItself(t *testing.T) {
	n := testenv.StartNATSWithAuth(t)
	v := make(testenv.Violations, 4)
	nc, _ := n.ConnectAsIdentity(t, natsauth.Runner, "gpu-1", nats.ErrorHandler(v.Note))
	if ok, why := v.Refused(t, nc, func() error { return nc.Publish(bus.HeartbeatSubject("gpu-0"), []byte(`{}`)) }); !ok {
		t.Errorf("runner gpu-1 forges gpu-0's heartbeat: %s", why)
	}
	if ok, why := v.Refused(t, nc, func() error { return nc.Publish(bus.HeartbeatSubject("gpu-1"), []byte(`{}`)) }); ok {
		t.Errorf("runner gpu-1 may not send its own heartbeat: %s", why)
	}
}

// TestIngestAnswersNowhereElse: without response permissions ingest's
// rights end at clients' inboxes, so a reply subject naming a lease, the
// archive checkpoint, the dead letters or another service's inbox is
// refused by the server too (records and work subjects, which ingest
// writes as part of its work, are refused by ingest's own check:
// intake's TestAnswersOnlyClientInboxes).
func TestIngestAnswersNowhereElse(t *testing.T) {
	n := testenv.StartNATSWithAuth(t)
	_, adminJS := n.Connect(t)
	if err := bus.Ensure(context.Background(), adminJS, bus.DefaultSettings(), "demo"); err != nil {
		t.Fatal(err)
	}
	v := make(testenv.Violations, 4)
	ingest, _ := n.ConnectAs(t, natsauth.Ingest, nats.ErrorHandler(v.Note))
	requests, err := ingest.SubscribeSync(bus.SubjectRequests)
	if err != nil {
		t.Fatal(err)
	}
	if err := ingest.Flush(); err != nil {
		t.Fatal(err)
	}
	client, _ := n.ConnectAs(t, natsauth.Client)
	for _, reply := range []string{"$KV." + bus.BucketLeases + ".supervisor-leader", "$KV." + bus.BucketSupervisor + ".archive-revision",
		bus.DLQSubject("demo", "J1"), bus.ControlSubject("gpu-0"), bus.InboxPrefix("runner", "gpu-0") + ".x"} {
		if err := client.PublishMsg(&nats.Msg{Subject: bus.SubjectRequests, Reply: reply, Data: []byte(`{"prompt":"x"}`)}); err != nil {
			t.Fatal(err)
		}
		m, err := requests.NextMsg(2 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if ok, why := v.Refused(t, ingest, func() error { return m.Respond([]byte(`{"status":"queued"}`)) }); !ok {
			t.Errorf("ingest may answer on %s: %s", reply, why)
		}
	}
	// A client's own inbox it may answer.
	if err := client.PublishMsg(&nats.Msg{Subject: bus.SubjectRequests, Reply: bus.InboxPrefix("client", "default") + ".r1", Data: []byte(`{"prompt":"x"}`)}); err != nil {
		t.Fatal(err)
	}
	m, err := requests.NextMsg(2 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if ok, why := v.Refused(t, ingest, func() error { return m.Respond([]byte(`{"status":"queued"}`)) }); ok {
		t.Errorf("ingest may not answer a client's inbox: %s", why)
	}
}
