package bus

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

	"cyberimage/shared/job"
)

// overServerDefault is more idle slots than the server's default bound on
// waiting pulls (512) lets wait on one consumer.
const overServerDefault = 700

// TestAFleetsIdleSlotsAllWait: with the default settings, more idle slots
// than the server's own default allows all wait on one runners' consumer,
// none refused with 409 Exceeded MaxWaiting; a consumer made with the
// server's default refuses the same pulls, so the test can tell.
func TestAFleetsIdleSlotsAllWait(t *testing.T) {
	js := startJetStream(t)
	ctx := context.Background()
	s := DefaultSettings()
	if err := Ensure(ctx, js, s, "demo"); err != nil {
		t.Fatal(err)
	}
	if refused := waitingPulls(t, js, RunnerConsumer("demo"), overServerDefault); refused != 0 {
		t.Fatalf("%d of %d pulls refused on a provisioned consumer", refused, overServerDefault)
	}

	old := runnerConsumer(s, "old", job.PriorityNormal).cfg
	old.MaxWaiting = 0 // the server's default
	if _, err := js.CreateOrUpdateConsumer(ctx, StreamJobs, old); err != nil {
		t.Fatal(err)
	}
	if refused := waitingPulls(t, js, old.Durable, overServerDefault); refused == 0 {
		t.Fatal("the server's default refused none: the test no longer tells")
	}
}

// TestEnsureKeepsAnOldConsumersWaitingBound: a runners' consumer made
// before the bound was set (the server's 512) is provisioned again
// without error, keeps its bound (JetStream cannot change it) and takes
// the new MaxAckPending; services accept it, since they do not depend on
// the bound, but refuse another MaxAckPending.
func TestEnsureKeepsAnOldConsumersWaitingBound(t *testing.T) {
	js := startJetStream(t)
	ctx := context.Background()
	before := DefaultSettings()
	before.MaxAckPending, before.MaxWaitingPulls = 1024, 0 // the layout before
	if err := Ensure(ctx, js, before, "demo"); err != nil {
		t.Fatal(err)
	}
	s := DefaultSettings()
	if err := Verify(ctx, js, s, "demo"); !errors.Is(err, ErrSettingsDiffer) || !strings.Contains(err.Error(), "CYBERIMAGE_MAX_ACK_PENDING") {
		t.Fatalf("services with the new MaxAckPending before provisioning: %v", err)
	}
	if err := Ensure(ctx, js, s, "demo"); err != nil {
		t.Fatalf("provisioning over the old layout: %v", err)
	}
	if err := Verify(ctx, js, s, "demo"); err != nil {
		t.Fatalf("after provisioning: %v", err)
	}
	for _, name := range ModelConsumers("demo") {
		cons, err := js.Consumer(ctx, StreamJobs, name)
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
	if err := Verify(ctx, js, other, "demo"); err != nil {
		t.Fatalf("another waiting bound is not the services' concern: %v", err)
	}
}

// waitingPulls sends n pull requests of one message to a consumer of the
// jobs stream, as n idle slots would, and returns how many the server
// refused once every other one is waiting.
func waitingPulls(t *testing.T, js jetstream.JetStream, consumer string, n int) int {
	t.Helper()
	nc := js.Conn()
	inbox := nats.NewInbox()
	var refused atomic.Int64
	sub, err := nc.Subscribe(inbox+".*", func(m *nats.Msg) {
		if m.Header.Get("Status") == "409" {
			refused.Add(1)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	next := fmt.Sprintf("$JS.API.CONSUMER.MSG.NEXT.%s.%s", StreamJobs, consumer)
	body := fmt.Appendf(nil, `{"batch":1,"expires":%d}`, time.Minute.Nanoseconds())
	for i := range n {
		if err := nc.PublishRequest(next, fmt.Sprintf("%s.%d", inbox, i), body); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
	for {
		cons, err := js.Consumer(context.Background(), StreamJobs, consumer)
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
