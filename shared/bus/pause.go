package bus

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"cyberimage/shared/job"
)

// A model's queue is paused on the server: every priority class consumer
// of its work (ClassConsumer) is paused with JetStream's consumer pause
// (nats-server 2.11 and later), so no runner is given its work until it is
// resumed, while its jobs wait in the stream. The pause is the consumers'
// own state, kept and replicated by the server: it outlives any service's
// restart, and Ensure carries it over when it provisions again.

// pauseSpan is how long a pause lasts: until an operator resumes, in
// effect. JetStream pauses need an end; a century is far enough and still
// a duration the server's timers can hold.
const pauseSpan = 100 * 365 * 24 * time.Hour

// ModelConsumers are the consumers of one model's work, one per priority
// class.
func ModelConsumers(model string) []string {
	var out []string
	for _, p := range job.Priorities() {
		out = append(out, ClassConsumer(model, p))
	}
	return out
}

// PauseModel pauses the consumers of a model's work. It goes on past a
// consumer it could not pause and returns the first error (wrapping
// jetstream.ErrConsumerNotFound when the model has no queue); pausing a
// paused model again changes nothing.
func PauseModel(ctx context.Context, js jetstream.JetStream, model string, now time.Time) error {
	until := now.UTC().Add(pauseSpan)
	return eachConsumer(model, func(name string) error {
		_, err := js.PauseConsumer(ctx, StreamJobs, name, until)
		return err
	})
}

// ResumeModel resumes the consumers of a model's work.
func ResumeModel(ctx context.Context, js jetstream.JetStream, model string) error {
	return eachConsumer(model, func(name string) error {
		_, err := js.ResumeConsumer(ctx, StreamJobs, name)
		return err
	})
}

func eachConsumer(model string, do func(name string) error) error {
	var first error
	for _, name := range ModelConsumers(model) {
		if err := do(name); err != nil && first == nil {
			first = fmt.Errorf("consumer %s: %w", name, err)
		}
	}
	return first
}
