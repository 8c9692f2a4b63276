package bus_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"cyberimage/shared/bus"
	"cyberimage/shared/natsauth"
	"cyberimage/shared/testenv"
)

// An external test package: natsauth and testenv import bus, and these
// tests need their roles, so that a runner's rights (not admin's) are what
// the idle slots' pulls are held to.

// overServerDefault is more idle slots than the server's default bound on
// waiting pulls (512) lets wait on one consumer.
const overServerDefault = 700

// fleetRunners is how many runner identities the idle slots are spread
// over, as a fleet's runners would each hold some.
const fleetRunners = 7

// TestAFleetsIdleSlotsAllWait: with the default settings, more idle slots
// than the server's own default allows all wait on one runners' consumer,
// none refused with 409 Exceeded MaxWaiting; a consumer made with the
// server's default refuses the same pulls, so the test can tell. Admin
// provisions; the pulls come from runner identities, with only their
// role's rights.
func TestAFleetsIdleSlotsAllWait(t *testing.T) {
	n := testenv.StartNATSWithAuth(t)
	_, admin := n.Provisioned(t, "demo")
	runners := make([]*nats.Conn, fleetRunners)
	for i := range runners {
		runners[i], _ = n.ConnectAsIdentity(t, natsauth.Runner, fmt.Sprintf("runner-%d", i))
	}
	if refused := waitingPulls(t, admin, runners, bus.RunnerConsumer("demo"), overServerDefault); refused != 0 {
		t.Fatalf("%d of %d pulls refused on a provisioned consumer", refused, overServerDefault)
	}

	old := bus.DefaultSettings()
	old.MaxWaitingPulls = 0 // the server's default, as before the bound was set
	provision(t, admin, old, "old")
	if refused := waitingPulls(t, admin, runners, bus.RunnerConsumer("old"), overServerDefault); refused == 0 {
		t.Fatal("the server's default refused none: the test no longer tells")
	}
}

// TestEnsureKeepsAnOldConsumersWaitingBound: a runners' consumer made
// before the bound was set (the server's 512) is provisioned again
// without error, keeps its bound (JetStream cannot change it) and takes
// the new MaxAckPending; services accept it, since they do not depend on
// the bound, but refuse another MaxAckPending. Admin provisions; a runner
// verifies, as the service does at start.
func TestEnsureKeepsAnOldConsumersWaitingBound(t *testing.T) {
	n, admin := authServer(t)
	_, runner := n.ConnectAs(t, natsauth.Runner)
	ctx := context.Background()
	before := bus.DefaultSettings()
	before.MaxAckPending, before.MaxWaitingPulls = 1024, 0 // the layout before
	provision(t, admin, before, "demo")
	s := bus.DefaultSettings()
	if err := bus.Verify(ctx, runner, s, "demo"); !errors.Is(err, bus.ErrSettingsDiffer) || !strings.Contains(err.Error(), "CYBERIMAGE_MAX_ACK_PENDING") {
		t.Fatalf("services with the new MaxAckPending before provisioning: %v", err)
	}
	if err := bus.Ensure(ctx, admin, s, "demo"); err != nil {
		t.Fatalf("provisioning over the old layout: %v", err)
	}
	if err := bus.Verify(ctx, runner, s, "demo"); err != nil {
		t.Fatalf("after provisioning: %v", err)
	}
	for _, name := range bus.ModelConsumers("demo") {
		cons, err := admin.Consumer(ctx, bus.StreamJobs, name)
		if err != nil {
			t.Fatal(err)
		}
		cfg := cons.CachedInfo().Config
		if cfg.MaxAckPending != s.MaxAckPending || cfg.MaxWaiting != 512 {
			t.Errorf("%s: MaxAckPending %d, MaxWaiting %d; want %d and the kept 512", name, cfg.MaxAckPending, cfg.MaxWaiting, s.MaxAckPending)
		}
	}
	other := s
	other.MaxWaitingPulls = 99
	if err := bus.Verify(ctx, runner, other, "demo"); err != nil {
		t.Fatalf("another waiting bound is not the services' concern: %v", err)
	}
}

// waitingPulls sends n pull requests of one message to a consumer of the
// jobs stream, as n idle slots would, spread over the runners'
// connections (each into its own inbox), and returns how many the server
// refused once every other one is waiting. admin only reads the
// consumer's count of waiting pulls.
func waitingPulls(t *testing.T, admin jetstream.JetStream, runners []*nats.Conn, consumer string, n int) int {
	t.Helper()
	var refused atomic.Int64
	inboxes := make([]string, len(runners))
	for i, nc := range runners {
		inboxes[i] = nc.NewInbox()
		sub, err := nc.Subscribe(inboxes[i]+".*", func(m *nats.Msg) {
			if m.Header.Get("Status") == "409" {
				refused.Add(1)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sub.Unsubscribe() })
	}
	next := fmt.Sprintf("$JS.API.CONSUMER.MSG.NEXT.%s.%s", bus.StreamJobs, consumer)
	body := fmt.Appendf(nil, `{"batch":1,"expires":%d}`, time.Minute.Nanoseconds())
	for i := range n {
		r := i % len(runners)
		if err := runners[r].PublishRequest(next, fmt.Sprintf("%s.%d", inboxes[r], i), body); err != nil {
			t.Fatal(err)
		}
	}
	for _, nc := range runners {
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := nc.LastError(); err != nil {
			t.Fatalf("a runner may not pull from %s: %v", consumer, err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
	for {
		cons, err := admin.Consumer(context.Background(), bus.StreamJobs, consumer)
		if err != nil {
			t.Fatal(err)
		}
		waiting := cons.CachedInfo().NumWaiting
		if waiting+int(refused.Load()) >= n {
			return int(refused.Load())
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d pulls waiting and %d refused of %d after 10 s", waiting, refused.Load(), n)
		}
		<-poll.C
	}
}
