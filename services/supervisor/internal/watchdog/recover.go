package watchdog

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/nats-io/nats.go"

	"cyberimage/services/supervisor/internal/index"
	"cyberimage/services/supervisor/internal/recoveries"
	"cyberimage/shared/backoff"
	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
	"cyberimage/shared/tracing"
)

// Recoverer carries out recoveries on the real system.
type Recoverer struct {
	Store *jobstore.Store
	NC    *nats.Conn
	// NakBase is the redelivery delay after the first stalled delivery;
	// it doubles with each further one.
	NakBase time.Duration
	// MaxDeliver is the consumer's: a stall on the last delivery fails
	// the job at once.
	MaxDeliver int
	Now        func() time.Time
}

// Recover takes the job from its stalled delivery, in an order that is safe
// at every step:
//  1. the record moves back to queued, fenced on the very delivery judged
//     stalled, so the stale runner can no longer complete it (its
//     compare-and-set on the record fails) and nothing is done if the job
//     finished meanwhile; on the last delivery it moves to failed instead;
//  2. the runner is told to abandon the delivery (terminate the inference,
//     never ack);
//  3. the delivery is NAKed with a backoff delay on its own ack subject, so
//     JetStream redelivers it to a healthy runner; the last delivery is
//     terminated with the reason instead, so the job fails now rather than
//     when the server would next have redelivered it, and the dead-letter
//     handler copies it to the DLQ from the MSG_TERMINATED advisory.
func (r *Recoverer) Recover(ctx context.Context, e index.Entry, kind, reason string) (recovered bool, err error) {
	ctx, span := tracing.Tracer().Start(tracing.FromTraceparent(ctx, e.Traceparent), "supervisor.recover",
		trace.WithAttributes(attribute.String("job_id", e.JobID), attribute.String("rule", kind), attribute.String("reason", reason),
			attribute.String("delivery", e.Delivery.Token()), attribute.String("runner", e.Delivery.Runner)))
	defer func() {
		span.SetAttributes(attribute.Bool("recovered", recovered))
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}()
	now := r.Now()
	last := r.MaxDeliver > 0 && e.Delivery.Delivered >= r.MaxDeliver
	rec, err := r.Store.Update(ctx, e.JobID, func(rec *job.Record) error {
		if err := job.TakeAway(rec, e.Delivery, now, kind+": "+reason); err != nil || !last {
			return err
		}
		return job.GiveUp(rec, e.Delivery.Delivered, now)
	})
	if errors.Is(err, job.ErrNotOwner) {
		return false, nil // the job moved on since it was judged
	}
	if err != nil {
		return false, err
	}
	if err := r.order(e.Delivery.Runner, bus.DeliveryOrder(bus.ControlAbandon, e.JobID, e.Delivery.Token(), reason, now)); err != nil {
		return true, err
	}
	delay := NakDelay(r.NakBase, e.Delivery.Delivered)
	if kind == recoveries.KindRunnerLost {
		// Nothing about the job was wrong: back to a live runner now.
		delay = 0
	}
	payload := bus.NakWithDelay(delay)
	if last {
		payload = bus.TermWithReason(bus.TermReason(e.JobID, rec.Error.Message))
	}
	// The subject comes from the record, which runners write: act only on
	// one that is this very delivery's, never wherever a record points.
	if err := bus.CheckJobDelivery(e.Delivery.AckSubject, e.Delivery.StreamSeq, e.Delivery.Delivered); err != nil {
		return true, fmt.Errorf("settle %s: %w", e.Delivery.Token(), err)
	}
	if err := r.NC.Publish(e.Delivery.AckSubject, payload); err != nil {
		// The runner stops its in-progress acks once the record is no
		// longer its own, so JetStream redelivers after AckWait anyway
		// (and a last delivery then ends through the max-deliveries
		// advisory).
		return true, fmt.Errorf("settle %s: %w", e.Delivery.Token(), err)
	}
	return true, nil
}

// Reload orders a runner to reload its models.
func (r *Recoverer) Reload(_ context.Context, runner, id, reason string) error {
	return r.order(runner, bus.ReloadOrder(id, reason, r.Now()))
}

// OperatorReload orders a runner to reload its models on an operator's
// request, as an emergency recovery does: the order is kept in the
// runner's history, so the leader repeats it until the runner's heartbeat
// reports it done (a core NATS order may be lost), and the runner takes no
// new work until its models are back. The order is addressed to the
// runner process heard from now (runners), so a restart voids it. It
// returns the order's id.
func OperatorReload(h Histories, runners Runners, r *Recoverer) func(ctx context.Context, runner string) (string, error) {
	return func(ctx context.Context, runner string) (string, error) {
		id := "operator-" + strconv.FormatInt(r.Now().UnixNano(), 36)
		hb, _ := runners.Heartbeat(runner)
		if _, err := h.Update(ctx, runner, func(hist *History) { hist.ReloadOrder, hist.ReloadBoot = id, hb.Boot }); err != nil {
			return "", fmt.Errorf("record reload order for %s: %w", runner, err)
		}
		return id, r.Reload(ctx, runner, id, "operator request")
	}
}

func (r *Recoverer) order(runner string, c bus.Control) error {
	if err := r.NC.Publish(bus.ControlSubject(runner), bus.EncodeControl(c)); err != nil {
		return fmt.Errorf("order %s to %s: %w", c.Action, runner, err)
	}
	return nil
}

// NakDelay doubles base with each delivery, caps at a minute and adds ±20%
// jitter so recovered jobs do not all return at once.
func NakDelay(base time.Duration, delivered int) time.Duration {
	return backoff.Policy{Base: base, Max: time.Minute, Jitter: 0.2}.Delay(delivered)
}
