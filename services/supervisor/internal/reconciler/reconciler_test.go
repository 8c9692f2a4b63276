package reconciler

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"cyberimage/services/supervisor/internal/acks"
	"cyberimage/services/supervisor/internal/deadletter"
	"cyberimage/services/supervisor/internal/index"
	"cyberimage/services/supervisor/internal/leaderpass/leaderpasstest"
	"cyberimage/services/supervisor/internal/recoveries"
	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/natsauth"
)

// TestRequeuesOnlyLostWork: of four unfinished jobs only the one whose work
// message is gone, whose record is old by the server's clock and whose
// delivery nobody keeps alive is queued again, once.
func TestRequeuesOnlyLostWork(t *testing.T) {
	_, js, store := leaderpasstest.Store(t)
	ctx := context.Background()
	now := time.Now()
	old := now.Add(-time.Hour)
	spec := job.Spec{Prompt: "p", Model: "demo", Width: 64, Height: 64, Steps: 1, NumImages: 1}
	d := &job.Delivery{StreamSeq: 99, Delivered: 1, Runner: "r1"}

	records := map[string]job.Record{
		"lost":     {JobID: "lost", Status: job.StatusProcessing, Spec: spec, Runner: "r1", Attempts: 1, Delivery: d},
		"waiting":  {JobID: "waiting", Status: job.StatusQueued, Spec: spec},
		"fresh":    {JobID: "fresh", Status: job.StatusQueued, Spec: spec},
		"alive":    {JobID: "alive", Status: job.StatusProcessing, Spec: spec, Runner: "r2", Delivery: &job.Delivery{StreamSeq: 98, Delivered: 1, Runner: "r2"}},
		"finished": {JobID: "finished", Status: job.StatusCompleted, Spec: spec},
	}
	var entries leaderpasstest.Jobs
	for id, rec := range records {
		_, err := store.Create(ctx, rec)
		require.NoError(t, err)
		got, _, err := store.Get(ctx, id)
		require.NoError(t, err)
		changed := old
		if id == "fresh" {
			changed = now
		}
		if id != "finished" {
			entries = append(entries, index.Entry{JobID: id, Status: rec.Status, Model: "demo", Runner: rec.Runner,
				Delivery: rec.Delivery, UpdatedAt: got.UpdatedAt, ChangedAt: changed})
		}
	}
	// "waiting" still has its work message in the queue.
	data, _ := json.Marshal(bus.Work{JobID: "waiting", Spec: spec})
	_, err := js.Publish(ctx, bus.JobSubject("demo", "waiting"), data)
	require.NoError(t, err)

	log := recoveries.NewLog(10)
	r := New(Params{JS: js, Store: store, Jobs: entries, Log: log, Grace: 2 * time.Minute, AckWait: time.Minute,
		Acks: leaderpasstest.Acks{"98.1": {Kind: acks.InProgress, At: now.Add(-time.Second)}}, Deps: leaderpasstest.At(t, now)})
	n, err := r.runOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)

	lost, _, err := store.Get(ctx, "lost")
	require.NoError(t, err)
	require.Equal(t, job.StatusQueued, lost.Status)
	require.Len(t, lost.Recoveries, 1)
	require.Contains(t, lost.Recoveries[0].Reason, "lost")
	stream, err := js.Stream(ctx, bus.StreamJobs)
	require.NoError(t, err)
	_, err = stream.GetLastMsgForSubject(ctx, bus.JobSubject("demo", "lost"))
	require.NoError(t, err, "its work is queued again")
	for _, id := range []string{"fresh", "alive"} {
		_, err = stream.GetLastMsgForSubject(ctx, bus.JobSubject("demo", id))
		require.ErrorIs(t, err, jetstream.ErrMsgNotFound, "%s left alone", id)
		rec, _, _ := store.Get(ctx, id)
		require.Equal(t, records[id].Status, rec.Status, id)
	}
	require.Equal(t, recoveries.KindLost, log.Recent()[0].Kind)

	// A second pass over the same (now stale) view changes nothing: the
	// record moved on since it was read.
	n, err = r.runOnce(ctx)
	require.NoError(t, err)
	require.Zero(t, n)
}

// TestSettlesJobsWhoseAdvisoryWasLost: a job ran out of deliveries but the
// server's advisory never reached the dead-letter handler (another
// consumer took it, a node was lost). The reconciler ends it as the
// advisory would have: failed with its reason, dead-lettered, its work
// removed.
func TestSettlesJobsWhoseAdvisoryWasLost(t *testing.T) {
	srv, js, store := leaderpasstest.Store(t)
	_, runner := srv.ConnectAs(t, natsauth.Runner)
	ctx := context.Background()
	settings := bus.DefaultSettings()
	spec := job.Spec{Prompt: "p", Model: "demo", Width: 64, Height: 64, Steps: 1, NumImages: 1}
	data, _ := json.Marshal(bus.Work{JobID: "exhausted", Spec: spec})
	ack, err := js.Publish(ctx, bus.JobSubject("demo", "exhausted"), data)
	require.NoError(t, err)

	// Every delivery fails; the last one is recorded on the record, as a
	// runner's claim would.
	cons, err := runner.Consumer(ctx, bus.StreamJobs, bus.RunnerConsumer("demo"))
	require.NoError(t, err)
	for range settings.MaxDeliver + 1 {
		batch, err := cons.Fetch(1, jetstream.FetchMaxWait(500*time.Millisecond))
		require.NoError(t, err)
		for m := range batch.Messages() {
			require.NoError(t, m.Nak())
		}
	}
	last := &job.Delivery{StreamSeq: ack.Sequence, Delivered: settings.MaxDeliver, Runner: "r1"}
	_, err = store.Create(ctx, job.Record{JobID: "exhausted", Status: job.StatusProcessing, Spec: spec, Attempts: settings.MaxDeliver,
		Runner: "r1", Delivery: last, Recoveries: []job.Recovery{{Reason: "stalled: over max_stalled_time"}}})
	require.NoError(t, err)
	// Someone else consumed the advisory (an operator's purge stands in).
	_, admin := srv.Connect(t)
	advisories, err := admin.Stream(ctx, bus.StreamAdvisories)
	require.NoError(t, err)
	require.NoError(t, advisories.Purge(ctx))

	dead := deadletter.New(deadletter.Params{JS: js, Store: store, Log: recoveries.NewLog(10), AckWait: settings.AckWait, Logger: zaptest.NewLogger(t)})
	now := time.Now()
	entry := index.Entry{JobID: "exhausted", Status: job.StatusProcessing, Model: "demo", Runner: "r1", Delivery: last,
		ChangedAt: now.Add(-time.Hour)}
	r := New(Params{DeadLetters: dead, MaxDeliver: settings.MaxDeliver, JS: js, Store: store, Jobs: leaderpasstest.Jobs{entry},
		Acks: leaderpasstest.Acks{}, Log: recoveries.NewLog(10), Grace: 2 * settings.AckWait, AckWait: settings.AckWait,
		Deps: leaderpasstest.At(t, now)})
	_, err = r.runOnce(ctx)
	require.NoError(t, err)

	rec, _, err := store.Get(ctx, "exhausted")
	require.NoError(t, err)
	require.Equal(t, job.StatusFailed, rec.Status)
	require.Equal(t, job.CodeRetriesExhausted, rec.Error.Code)
	require.Contains(t, rec.Error.Message, "max_stalled_time")
	dlq, _ := js.Stream(ctx, bus.StreamDLQ)
	_, err = dlq.GetLastMsgForSubject(ctx, bus.DLQSubject("demo", "exhausted"))
	require.NoError(t, err, "dead-lettered")
	jobs, _ := js.Stream(ctx, bus.StreamJobs)
	_, err = jobs.GetMsg(ctx, ack.Sequence)
	require.ErrorIs(t, err, jetstream.ErrMsgNotFound, "its work left the queue")
}

// TestExhaustedMeansTheLastDeliveryOfThatMessage: only a record whose
// delivery of this very message was the last one counts as out of
// deliveries (whether a runner still keeps it alive is checked before).
func TestExhaustedMeansTheLastDeliveryOfThatMessage(t *testing.T) {
	r := &Reconciler{p: Params{DeadLetters: nilSettler{}, MaxDeliver: 4}}
	e := index.Entry{Delivery: &job.Delivery{StreamSeq: 9, Delivered: 4}}
	require.True(t, r.exhausted(e, 9))
	require.False(t, r.exhausted(e, 10), "another message of the job")
	e.Delivery.Delivered = 3
	require.False(t, r.exhausted(e, 9), "deliveries left")
}

type nilSettler struct{}

func (nilSettler) Settle(context.Context, bus.Advisory) error { return nil }
