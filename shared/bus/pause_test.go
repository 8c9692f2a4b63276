package bus

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// TestPauseModel: pausing a model pauses every class consumer of its work
// and no other model's; the layout still verifies, provisioning again
// keeps the pause, and resuming ends it. A model with no queue is
// ErrConsumerNotFound.
func TestPauseModel(t *testing.T) {
	js := startJetStream(t)
	ctx := context.Background()
	s := DefaultSettings()
	if err := Ensure(ctx, js, s, "demo", "other"); err != nil {
		t.Fatal(err)
	}
	paused := func(model string) []bool {
		t.Helper()
		var out []bool
		for _, name := range ModelConsumers(model) {
			cons, err := js.Consumer(ctx, StreamJobs, name)
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
				t.Fatalf("%s: consumer %s paused %v, want %v", model, ModelConsumers(model)[i], p, want)
			}
		}
	}
	if len(ModelConsumers("demo")) != 3 {
		t.Fatalf("consumers %v", ModelConsumers("demo"))
	}
	if err := PauseModel(ctx, js, "demo", time.Now()); err != nil {
		t.Fatal(err)
	}
	all("demo", true)
	all("other", false)
	if err := PauseModel(ctx, js, "demo", time.Now()); err != nil {
		t.Fatalf("paused again: %v", err)
	}
	if err := Verify(ctx, js, s, "demo", "other"); err != nil {
		t.Fatalf("a paused queue is not a layout difference: %v", err)
	}
	if err := Ensure(ctx, js, s, "demo", "other"); err != nil {
		t.Fatal(err)
	}
	all("demo", true)
	if err := ResumeModel(ctx, js, "demo"); err != nil {
		t.Fatal(err)
	}
	all("demo", false)
	if err := PauseModel(ctx, js, "nope", time.Now()); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Fatalf("pause of a model with no queue: %v", err)
	}
}
