package webhook

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"

	"cyberimage/services/supervisor/internal/follow"
)

// catchUp hands x every job that ended after revision from and no later
// than to, as the record bucket holds it now (a job ended and then
// re-queued in between is left to its next end), reading batch records at
// a time.
func catchUp(ctx context.Context, records jetstream.KeyValue, from, to uint64, batch int, x *dispatcher) error {
	for from < to {
		ended, next, err := follow.ReadEnded(ctx, records, from, to, batch)
		if err != nil {
			return err
		}
		for _, e := range ended {
			x.add(e.Revision, e.Record)
		}
		from = next
	}
	return nil
}
