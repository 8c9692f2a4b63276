package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"cyberimage/shared/lifecycle"
)

// Keep re-checks the layout every interval until ctx ends and provisions
// again whatever went missing or was changed (a consumer deleted by hand,
// a stream lost with a node): the provision step, kept running, is what
// heals the system without giving any service the right to create or
// change streams and consumers. Services re-bind once it is back. report
// hears what each repair was for (nil: quiet).
func Keep(ctx context.Context, js jetstream.JetStream, s Settings, interval time.Duration, report func(error), models ...string) {
	if report == nil {
		report = func(error) {}
	}
	lifecycle.Every(ctx, interval, func(ctx context.Context) {
		if err := repair(ctx, js, s, models...); err != nil {
			report(err)
		}
	})
}

// repair is one pass of Keep: it checks the layout and, when something
// is missing or differs, provisions it again; it returns what was wrong
// (and why the repair failed, if it did), nil when nothing was.
func repair(ctx context.Context, js jetstream.JetStream, s Settings, models ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := Verify(ctx, js, s, models...)
	if err == nil || !(errors.Is(err, ErrNotProvisioned) || errors.Is(err, ErrSettingsDiffer)) {
		return nil
	}
	if ensureErr := Ensure(ctx, js, s, models...); ensureErr != nil {
		return fmt.Errorf("%v; repair failed: %w", err, ensureErr)
	}
	return err
}
