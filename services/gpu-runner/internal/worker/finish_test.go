package worker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
	"cyberimage/shared/testenv"
)

// fakeMsg records what was sent for a delivery instead of sending it.
type fakeMsg struct {
	mu   sync.Mutex
	sent []string
}

func (m *fakeMsg) note(s string) error {
	m.mu.Lock()
	m.sent = append(m.sent, s)
	m.mu.Unlock()
	return nil
}
func (m *fakeMsg) got() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.sent...)
}
func (m *fakeMsg) Metadata() (*jetstream.MsgMetadata, error) { return &jetstream.MsgMetadata{}, nil }
func (m *fakeMsg) Data() []byte                              { return nil }
func (m *fakeMsg) Headers() nats.Header                      { return nil }
func (m *fakeMsg) Subject() string                           { return "" }
func (m *fakeMsg) Reply() string                             { return "" }
func (m *fakeMsg) Ack() error                                { return m.note("ack") }
func (m *fakeMsg) DoubleAck(context.Context) error           { return m.note("double-ack") }
func (m *fakeMsg) Nak() error                                { return m.note("nak") }
func (m *fakeMsg) NakWithDelay(d time.Duration) error        { return m.note("nak-delay") }
func (m *fakeMsg) InProgress() error                         { return m.note("wpi") }
func (m *fakeMsg) Term() error                               { return m.note("term") }
func (m *fakeMsg) TermWithReason(r string) error             { return m.note("term: " + r) }

// fateFixture is a worker on a real job store, with deliveries whose
// messages are fakes.
type fateFixture struct {
	w     *Worker
	store *jobstore.Store
}

func newFateFixture(t *testing.T) *fateFixture {
	nc, js := testenv.StartNATS(t).Provisioned(t, "demo")
	store, err := jobstore.Open(context.Background(), js)
	require.NoError(t, err)
	w := New(Params{Runner: "r1", NC: nc, JS: js, Store: store, Settings: bus.DefaultSettings(), Logger: zaptest.NewLogger(t)})
	t.Cleanup(w.cancelWork)
	return &fateFixture{w: w, store: store}
}

// delivery makes a delivery of a job whose record is in the given state;
// claimed says whether this delivery claimed it.
func (f *fateFixture) delivery(t *testing.T, id string, delivered int, claimed bool) (*delivery, *fakeMsg) {
	ctx := context.Background()
	msg := &fakeMsg{}
	d := &delivery{msg: msg, delivered: delivered, ended: make(chan struct{}), slot: &slot{},
		work: bus.Work{JobID: id}, log: zaptest.NewLogger(t)}
	d.id = job.Delivery{StreamSeq: 1, Delivered: delivered, Runner: "r1"}
	d.ctx, d.cancel = context.WithCancelCause(ctx)
	d.stopKeepAlive = func() {}
	_, err := f.store.Create(ctx, job.Record{JobID: id, Status: job.StatusQueued, Spec: job.Spec{Model: "demo", Steps: 1, NumImages: 1}})
	require.NoError(t, err)
	if claimed {
		_, err := f.store.Update(ctx, id, func(r *job.Record) error { return job.Claim(r, d.id, time.Now()) })
		require.NoError(t, err)
		d.claimed.Store(true)
	}
	return d, msg
}

func (f *fateFixture) status(t *testing.T, id string) job.Record {
	rec, _, err := f.store.Get(context.Background(), id)
	require.NoError(t, err)
	return rec
}

// TestFinishDecidesEveryFate: each way a delivery can end sends exactly
// what its case calls for, and nothing when the delivery is no longer
// the job's owner.
func TestFinishDecidesEveryFate(t *testing.T) {
	f := newFateFixture(t)
	maxDeliver := bus.DefaultSettings().MaxDeliver
	cases := []struct {
		name      string
		delivered int
		claimed   bool
		err       error
		cause     error
		want      []string
		outcome   outcome
		status    job.Status
	}{
		{"completed", 1, true, nil, nil, []string{"ack"}, outcomeDone, job.StatusProcessing},
		{"already ended", 2, false, errAlreadyDone, nil, []string{"ack"}, outcomeDone, job.StatusQueued},
		{"stale", 1, true, errStale, nil, nil, outcomeTakenAway, job.StatusProcessing},
		{"abandoned", 1, true, context.Canceled, errAbandoned, nil, outcomeTakenAway, job.StatusProcessing},
		{"cancelled", 1, true, context.Canceled, errCancelled, nil, outcomeDone, job.StatusProcessing},
		{"handed back", 1, false, errHandBack, nil, []string{"nak"}, outcomeDone, job.StatusQueued},
		{"permanent", 1, true, permanent(errors.New("model refused")), nil, []string{"term"}, outcomeDone, job.StatusFailed},
		{"transient", 1, true, errors.New("s3 down"), nil, []string{"nak-delay"}, outcomeTransient, job.StatusProcessing},
		{"transient on the last delivery", maxDeliver, true, errors.New("s3 down"), nil, []string{"term"}, outcomeDone, job.StatusFailed},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := fmt.Sprintf("job-%d", i)
			d, msg := f.delivery(t, id, c.delivered, c.claimed)
			if c.cause != nil {
				d.cancel(c.cause)
			}
			require.Equal(t, c.outcome, f.w.finish(d, c.err))
			got := msg.got()
			for j := range got {
				got[j], _, _ = strings.Cut(got[j], ":") // the reason is checked below
			}
			require.Equal(t, c.want, got)
			rec := f.status(t, id)
			require.Equal(t, c.status, rec.Status)
			if c.status == job.StatusFailed {
				require.Contains(t, msg.got()[0], "job "+id+": ", "the term reason names the job")
				require.NotEmpty(t, rec.Error.Message)
			}
		})
	}
}

// TestFinishLeavesAnotherOwnersJobAlone: a delivery whose job was given to
// a newer delivery neither acks, NAKs nor terminates (the server would
// apply it to the newer one) and does not touch the record.
func TestFinishLeavesAnotherOwnersJobAlone(t *testing.T) {
	f := newFateFixture(t)
	d, msg := f.delivery(t, "taken", 1, true)
	newer := job.Delivery{StreamSeq: 1, Delivered: 2, Runner: "r2"}
	_, err := f.store.Update(context.Background(), "taken", func(r *job.Record) error { return job.Claim(r, newer, time.Now()) })
	require.NoError(t, err)
	for _, err := range []error{permanent(errors.New("x")), errors.New("transient")} {
		require.Equal(t, outcomeTakenAway, f.w.finish(d, err))
	}
	require.Empty(t, msg.got())
	rec := f.status(t, "taken")
	require.Equal(t, job.StatusProcessing, rec.Status)
	require.Equal(t, "r2", rec.Runner)
}
