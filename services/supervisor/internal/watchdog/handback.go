package watchdog

import (
	"context"
	"errors"
	"fmt"

	"cyberimage/services/supervisor/internal/acks"
	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
)

// HandBack returns to the queue, at once, a delivery a gone runner held but
// never claimed (it waited in the runner's prefetch buffer, so its record
// is still queued and no fence is needed): a NAK with no delay on its ack
// subject, which the runner's last heartbeat named and which must be that
// very delivery of the jobs stream. A delivery the record names is left to
// Recover, and one already taken away (the record names a later or the
// same delivery) is left alone. It reports whether it NAKed.
func (r *Recoverer) HandBack(ctx context.Context, runner string, held bus.HeldJob) (bool, error) {
	seq, delivered, err := acks.ParseToken(held.Delivery)
	if err != nil {
		return false, err
	}
	rec, _, err := r.Store.Get(ctx, held.JobID)
	if errors.Is(err, jobstore.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if rec.Status != job.StatusQueued || (rec.Delivery != nil && rec.Delivery.StreamSeq == seq && rec.Delivery.Delivered >= delivered) {
		return false, nil
	}
	if err := bus.CheckJobDelivery(held.AckSubject, seq, delivered); err != nil {
		return false, fmt.Errorf("hand back %s of %s: %w", held.Delivery, runner, err)
	}
	if err := r.NC.Publish(held.AckSubject, bus.NakWithDelay(0)); err != nil {
		return false, fmt.Errorf("hand back %s of %s: %w", held.Delivery, runner, err)
	}
	return true, nil
}
