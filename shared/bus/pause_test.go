package bus_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"cyberimage/shared/bus"
	"cyberimage/shared/natsauth"
)

// TestPauseModel: pausing a model pauses every class consumer of its work
// and no other model's; the layout still verifies, provisioning again
// keeps the pause, and resuming ends it. A model with no queue is
// ErrConsumerNotFound. Admin provisions and reads the consumers' state;
// the supervisor pauses, resumes and verifies with its role's rights, as
// the operator's console does through it.
func TestPauseModel(t *testing.T) {
	n, admin := authServer(t)
	_, supervisor := n.ConnectAs(t, natsauth.Supervisor)
	ctx := context.Background()
	s := bus.DefaultSettings()
	provision(t, admin, s, "demo", "other")
	paused := func(model string) []bool {
		t.Helper()
		var out []bool
		for _, name := range bus.ModelConsumers(model) {
			cons, err := admin.Consumer(ctx, bus.StreamJobs, name)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, cons.CachedInfo().Paused)
		}
		return out
	}
	all := func(model string, want bool) {
		t.Helper()
		for i, p := range paused(model) {
			if p != want {
				t.Fatalf("%s: consumer %s paused %v, want %v", model, bus.ModelConsumers(model)[i], p, want)
			}
		}
	}
	if len(bus.ModelConsumers("demo")) != 3 {
		t.Fatalf("consumers %v", bus.ModelConsumers("demo"))
	}
	if err := bus.PauseModel(ctx, supervisor, "demo", time.Now()); err != nil {
		t.Fatal(err)
	}
	all("demo", true)
	all("other", false)
	if err := bus.PauseModel(ctx, supervisor, "demo", time.Now()); err != nil {
		t.Fatalf("paused again: %v", err)
	}
	if err := bus.Verify(ctx, supervisor, s, "demo", "other"); err != nil {
		t.Fatalf("a paused queue is not a layout difference: %v", err)
	}
	provision(t, admin, s, "demo", "other")
	all("demo", true)
	if err := bus.ResumeModel(ctx, supervisor, "demo"); err != nil {
		t.Fatal(err)
	}
	all("demo", false)
	if err := bus.PauseModel(ctx, supervisor, "nope", time.Now()); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Fatalf("pause of a model with no queue: %v", err)
	}
}
