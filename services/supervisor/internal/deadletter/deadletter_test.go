package deadletter

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"cyberimage/services/supervisor/internal/leaderpass/leaderpasstest"
	"cyberimage/services/supervisor/internal/recoveries"
	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
	"cyberimage/shared/natsauth"
)

type fixture struct {
	js     jetstream.JetStream // the supervisor's
	runner jetstream.JetStream // a GPU runner's
	store  *jobstore.Store
	h      *Handler
	log    *recoveries.Log
}

func newFixture(t *testing.T) *fixture {
	srv, js, store := leaderpasstest.Store(t)
	_, runner := srv.ConnectAs(t, natsauth.Runner)
	log := recoveries.NewLog(10)
	return &fixture{js: js, runner: runner, store: store, log: log, h: New(Params{JS: js, Store: store, Log: log, Logger: zaptest.NewLogger(t)})}
}

// queue writes a job's record and work message and returns the message's
// stream sequence.
func (f *fixture) queue(t *testing.T, id string, rec job.Record) uint64 {
	ctx := context.Background()
	rec.JobID = id
	rec.Spec = job.Spec{Prompt: "p", Model: "demo", Width: 64, Height: 64, Steps: 1, NumImages: 1}
	_, err := f.store.Create(ctx, rec)
	require.NoError(t, err)
	data, _ := json.Marshal(bus.Work{JobID: id, Spec: rec.Spec})
	ack, err := f.js.Publish(ctx, bus.JobSubject("demo", id), data)
	require.NoError(t, err)
	return ack.Sequence
}

// exhaust has the runners' consumer deliver the message until MaxDeliver
// runs out (each delivery NAKed at once), as runners that all fail on it
// would; the server then publishes its MAX_DELIVERIES advisory.
func (f *fixture) exhaust(t *testing.T) {
	ctx := context.Background()
	cons, err := f.runner.Consumer(ctx, bus.StreamJobs, bus.RunnerConsumer("demo"))
	require.NoError(t, err)
	for i := 0; i < bus.DefaultSettings().MaxDeliver; i++ {
		batch, err := cons.Fetch(1, jetstream.FetchMaxWait(2*time.Second))
		require.NoError(t, err)
		got := 0
		for m := range batch.Messages() {
			require.NoError(t, m.Nak())
			got++
		}
		require.Equal(t, 1, got, "delivery %d", i+1)
	}
	// The server notices the message is out of deliveries on the next pull.
	batch, err := cons.Fetch(1, jetstream.FetchMaxWait(500*time.Millisecond))
	require.NoError(t, err)
	for range batch.Messages() {
		t.Fatal("delivered past MaxDeliver")
	}
}

func (f *fixture) deadLetter(t *testing.T, id string) jetstream.RawStreamMsg {
	stream, err := f.js.Stream(context.Background(), bus.StreamDLQ)
	require.NoError(t, err)
	msg, err := stream.GetLastMsgForSubject(context.Background(), bus.DLQSubject("demo", id))
	require.NoError(t, err)
	return *msg
}

// TestMaxDeliveriesFailsAndDeadLetters: the max-deliveries advisory fails
// the job with the last recovery's reason, copies its work to the DLQ with
// the headers, removes it from the queue, and a repeat changes nothing.
func TestMaxDeliveriesFailsAndDeadLetters(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	seq := f.queue(t, "poison", job.Record{Status: job.StatusQueued, Recoveries: []job.Recovery{{Reason: "stalled: over max_stalled_time"}}})
	f.exhaust(t)
	adv := fmt.Sprintf(`{"type":"io.nats.jetstream.advisory.v1.max_deliver","stream_seq":%d,"deliveries":4}`, seq)
	require.NoError(t, f.h.handle(ctx, []byte(adv)))
	require.NoError(t, f.h.handle(ctx, []byte(adv)), "a redelivered advisory is harmless")

	rec, _, err := f.store.Get(ctx, "poison")
	require.NoError(t, err)
	require.Equal(t, job.StatusFailed, rec.Status)
	require.Equal(t, job.CodeRetriesExhausted, rec.Error.Code)
	require.Contains(t, rec.Error.Message, "4 deliveries")
	require.Contains(t, rec.Error.Message, "max_stalled_time")

	msg := f.deadLetter(t, "poison")
	require.Equal(t, "poison", msg.Header.Get(bus.HeaderJobID))
	require.Equal(t, "4", msg.Header.Get(bus.HeaderDeliveries))
	require.Equal(t, rec.Error.Message, msg.Header.Get(bus.HeaderReason))
	dlq, _ := f.js.Stream(ctx, bus.StreamDLQ)
	info, err := dlq.Info(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 1, info.State.Msgs, "one dead letter however often the advisory comes")
	jobs, _ := f.js.Stream(ctx, bus.StreamJobs)
	_, err = jobs.GetMsg(ctx, seq)
	require.ErrorIs(t, err, jetstream.ErrMsgNotFound, "the dead work left the queue")
	require.Equal(t, recoveries.KindDeadLetter, f.log.Recent()[0].Kind)
}

// TestTerminatedJobKeepsItsReason: a job a runner (or the watchdog)
// failed and terminated keeps the reason it was failed with; the advisory
// names it only through the term reason, its message being gone.
func TestTerminatedJobKeepsItsReason(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	seq := f.queue(t, "broken", job.Record{Status: job.StatusFailed, Error: &job.Failure{Code: job.CodeGenerationFailed, Message: "model refused"}})
	jobs, _ := f.js.Stream(ctx, bus.StreamJobs)
	require.NoError(t, jobs.DeleteMsg(ctx, seq)) // a terminated message leaves the work queue
	adv, _ := json.Marshal(map[string]any{"type": "io.nats.jetstream.advisory.v1.terminated", "stream_seq": seq, "deliveries": 1,
		"reason": bus.TermReason("broken", "permanent failure: model refused")})
	require.NoError(t, f.h.handle(ctx, adv))
	rec, _, _ := f.store.Get(ctx, "broken")
	require.Equal(t, job.CodeGenerationFailed, rec.Error.Code, "not overwritten")
	require.Equal(t, "model refused", f.deadLetter(t, "broken").Header.Get(bus.HeaderReason))
}

// TestJunkAdvisoryIsDropped: an advisory that cannot be read, or names no
// job and no message, is dropped without error (it would be redelivered
// forever otherwise) and changes nothing.
func TestJunkAdvisoryIsDropped(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, junk := range []string{"", "   ", "{", `{"stream_seq":424242,"reason":"nonsense"}`, `[]`} {
		require.NoError(t, f.h.handle(ctx, []byte(junk)), "%q", junk)
	}
	dlq, _ := f.js.Stream(ctx, bus.StreamDLQ)
	info, err := dlq.Info(ctx)
	require.NoError(t, err)
	require.Zero(t, info.State.Msgs)
}

// TestPassHandlesQueuedAdvisories: Pass takes advisories from the durable
// stream, the way the leader's loop runs it.
func TestPassHandlesQueuedAdvisories(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.queue(t, "via-stream", job.Record{Status: job.StatusQueued})
	f.exhaust(t) // the server's own advisory lands in CYBERIMAGE_ADVISORIES
	require.Eventually(t, func() bool {
		f.h.Pass(ctx)
		rec, _, err := f.store.Get(ctx, "via-stream")
		return err == nil && rec.Status == job.StatusFailed
	}, 10*time.Second, 10*time.Millisecond)
}

// TestForgedAdvisoriesChangeNothing: advisories JetStream's state does not
// bear out - a job never delivered, a TERM for a job nobody failed - fail
// nothing, remove nothing and are counted.
func TestForgedAdvisoriesChangeNothing(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	seq := f.queue(t, "innocent", job.Record{Status: job.StatusQueued})
	forged := []string{
		fmt.Sprintf(`{"type":"io.nats.jetstream.advisory.v1.max_deliver","stream":"CYBERIMAGE_JOBS","consumer":"gpu-runners-demo","stream_seq":%d,"deliveries":4}`, seq),
		fmt.Sprintf(`{"type":"io.nats.jetstream.advisory.v1.max_deliver","stream_seq":%d,"deliveries":1}`, seq),
		fmt.Sprintf(`{"type":"io.nats.jetstream.advisory.v1.terminated","stream_seq":%d,"deliveries":1,"reason":%q}`, seq, bus.TermReason("innocent", "forged")),
	}
	for _, adv := range forged {
		require.NoError(t, f.h.handle(ctx, []byte(adv)))
	}
	rec, _, err := f.store.Get(ctx, "innocent")
	require.NoError(t, err)
	require.Equal(t, job.StatusQueued, rec.Status)
	jobs, _ := f.js.Stream(ctx, bus.StreamJobs)
	_, err = jobs.GetMsg(ctx, seq)
	require.NoError(t, err, "the work is still queued")
	dlq, _ := f.js.Stream(ctx, bus.StreamDLQ)
	info, err := dlq.Info(ctx)
	require.NoError(t, err)
	require.Zero(t, info.State.Msgs)
	require.EqualValues(t, len(forged), f.h.p.Drops.Total())
}
