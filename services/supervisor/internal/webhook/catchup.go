package webhook

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go/jetstream"

	"cyberimage/services/supervisor/internal/index"
	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
)

// catchUp hands add every job that ended after revision from and no later
// than to, as the record bucket holds it now: a job ended and then
// re-queued in between is left to its next end.
func catchUp(ctx context.Context, records jetstream.KeyValue, from, to uint64, add func(rev uint64, rec job.Record)) error {
	watch, err := records.WatchAll(ctx, jetstream.ResumeFromRevision(from+1), jetstream.IncludeHistory())
	if err != nil {
		return err
	}
	defer func() { _ = watch.Stop() }()
	for {
		var e jetstream.KeyValueEntry
		var open bool
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e, open = <-watch.Updates():
		}
		if !open {
			return errors.New("the watch of the record bucket ended")
		}
		if e == nil || e.Revision() > to {
			return nil // the bucket's end when the watch began, or past to
		}
		if e.Operation() == jetstream.KeyValuePut {
			if rec, err := jobstore.Decode(e.Value()); err == nil && index.Archivable(e.Key(), rec) {
				add(e.Revision(), rec)
			}
		}
		if e.Revision() == to {
			return nil
		}
	}
}
