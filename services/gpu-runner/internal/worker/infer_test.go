package worker

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"cyberimage/services/gpu-runner/internal/pipeline"
	"cyberimage/shared/bus"
	"cyberimage/shared/job"
)

// scriptedModel is a generator whose run reports its first step at once,
// then returns the image for the spec it was given, or err.
type scriptedModel struct {
	err error
	// started, when set, is closed as the first run begins.
	started chan struct{}
	// atStart, when set, is called as each run begins.
	atStart func()

	mu   sync.Mutex
	runs []job.Spec
}

func (m *scriptedModel) Generate(_ context.Context, spec job.Spec, progress pipeline.Progress) ([]pipeline.Image, error) {
	m.mu.Lock()
	m.runs = append(m.runs, spec)
	if m.started != nil && len(m.runs) == 1 {
		close(m.started)
	}
	m.mu.Unlock()
	if m.atStart != nil {
		m.atStart()
	}
	progress(1, spec.Steps)
	if m.err != nil {
		return nil, m.err
	}
	return []pipeline.Image{{Width: 1, Height: 1, RGB: []byte(spec.Prompt)}}, nil
}

func (m *scriptedModel) Close() error { return nil }

func (m *scriptedModel) ran() []job.Spec {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]job.Spec(nil), m.runs...)
}

type oneModel struct{ g pipeline.Generator }

func (o oneModel) For(string, *int) (pipeline.Generator, func(), error) { return o.g, func() {}, nil }
func (o oneModel) Discard(string, *int, pipeline.Generator) bool        { return true }

// modelFixture is a fate fixture whose worker runs every model on m.
func modelFixture(t *testing.T, m *scriptedModel) *fateFixture {
	f := newFateFixture(t)
	f.w.p.Generators = oneModel{m}
	return f
}

// cancel ends a queued job as an operator would, before its delivery runs.
func (f *fateFixture) cancel(t *testing.T, id string) {
	_, err := f.store.Update(context.Background(), id, func(r *job.Record) error { return job.Cancel(r, "changed my mind", time.Now()) })
	require.NoError(t, err)
}

// queuedDelivery is the first delivery of work ingest queued: the record
// as ingest wrote it, and the work message naming its revision.
func (f *fateFixture) queuedDelivery(t *testing.T, id string, spec job.Spec) (*delivery, *fakeMsg) {
	ctx := context.Background()
	rec := job.Record{JobID: id, Status: job.StatusQueued, Spec: spec, CreatedAt: time.Now().UTC()}
	rev, err := f.store.Create(ctx, rec)
	require.NoError(t, err)
	msg := &fakeMsg{}
	gpu := 0 // the claim runs beside the model on a GPU only
	d := &delivery{msg: msg, delivered: 1, ended: make(chan struct{}), slot: &slot{gpu: &gpu}, log: zaptest.NewLogger(t),
		work: bus.Work{JobID: id, Spec: spec, CreatedAt: rec.CreatedAt, Revision: rev}}
	d.id = job.Delivery{StreamSeq: rev, Delivered: 1, Runner: "r1"}
	d.ctx, d.cancel = context.WithCancelCause(ctx)
	d.stopKeepAlive = func() {}
	d.events.interval = time.Hour
	return d, msg
}

// eventsOf collects the published events of the fixture's worker.
func eventsOf(f *fateFixture) *published {
	p := &published{}
	f.w.publishEvent = p.publish
	return p
}

// TestFirstDeliveryClaimsWhileItsModelRuns: the claim of a first delivery
// runs beside its model run, and its step events still follow the claim's
// own event: watchers never see a step of a job that is not processing.
func TestFirstDeliveryClaimsWhileItsModelRuns(t *testing.T) {
	model := &scriptedModel{started: make(chan struct{})}
	f := modelFixture(t, model)
	events := eventsOf(f)
	// The claim's write (its clock reading) waits until the model runs:
	// a claim made before the run would never see it start.
	f.w.p.Clock = func() time.Time {
		select {
		case <-model.started:
		case <-time.After(5 * time.Second):
			t.Error("the claim was written before the model run began")
		}
		return time.Now()
	}
	spec := job.Spec{Model: "demo", Prompt: "p", Steps: 3, NumImages: 1}
	d, msg := f.queuedDelivery(t, "fresh", spec)

	ready := f.w.infer([]*delivery{d})

	require.Equal(t, []*delivery{d}, ready)
	require.Equal(t, []byte("p"), d.images[0].RGB)
	require.Equal(t, 1, d.attempt)
	require.Empty(t, msg.got())
	rec := f.status(t, "fresh")
	require.Equal(t, job.StatusProcessing, rec.Status)
	require.True(t, rec.OwnedBy(&d.id))
	require.Equal(t, []string{"processing:0", "processing:1"}, events.get())
}

// TestFirstDeliveryWhoseClaimFailsIsDropped: a job that ended while its
// first delivery waited (cancelled, say) is acked as already done, and the
// images of the run beside the claim go nowhere.
func TestFirstDeliveryWhoseClaimFailsIsDropped(t *testing.T) {
	f := modelFixture(t, &scriptedModel{})
	events := eventsOf(f)
	d, msg := f.queuedDelivery(t, "gone", job.Spec{Model: "demo", Prompt: "p", Steps: 3, NumImages: 1})
	f.cancel(t, "gone")

	require.Empty(t, f.w.infer([]*delivery{d}))

	require.Equal(t, []string{"ack"}, msg.got())
	require.Equal(t, job.StatusCancelled, f.status(t, "gone").Status)
	require.Empty(t, events.get(), "no step of a job that never ran here")
}

// TestFirstDeliveryFailingAtOnceIsRecordedByItsOwner: a model run that
// fails before the claim beside it has landed still fails the job under
// that claim (the fence holds), with the reason, and terminates the
// message; it is not mistaken for a stale delivery.
func TestFirstDeliveryFailingAtOnceIsRecordedByItsOwner(t *testing.T) {
	f := modelFixture(t, &scriptedModel{err: errors.New("bad weights")})
	d, msg := f.queuedDelivery(t, "broken", job.Spec{Model: "demo", Prompt: "p", Steps: 1, NumImages: 1})

	require.Empty(t, f.w.infer([]*delivery{d}))

	got := msg.got()
	require.Len(t, got, 1)
	require.True(t, strings.HasPrefix(got[0], "term"), got)
	rec := f.status(t, "broken")
	require.Equal(t, job.StatusFailed, rec.Status)
	require.Contains(t, rec.Error.Message, "bad weights")
}

// TestFirstDeliveryOfAChangedRecordRunsWhatTheRecordSays: when the record
// no longer matches the work message (its spec changed), the run beside
// the claim is thrown away and the record's spec runs.
func TestFirstDeliveryOfAChangedRecordRunsWhatTheRecordSays(t *testing.T) {
	model := &scriptedModel{}
	f := modelFixture(t, model)
	queued := job.Spec{Model: "demo", Prompt: "old", Steps: 1, NumImages: 1}
	d, _ := f.queuedDelivery(t, "changed", queued)
	_, err := f.store.Update(context.Background(), "changed", func(r *job.Record) error {
		r.Spec.Prompt = "new"
		return nil
	})
	require.NoError(t, err)

	ready := f.w.infer([]*delivery{d})

	require.Equal(t, []*delivery{d}, ready)
	require.Equal(t, []byte("new"), d.images[0].RGB)
	runs := model.ran()
	require.Len(t, runs, 2)
	require.Equal(t, "new", runs[1].Prompt)
}

// TestEarlyStepWaitsForTheClaim: a step reached before the claim landed
// goes out right after the claim's event, the latest one only, and not at
// all when the claim fails.
func TestEarlyStepWaitsForTheClaim(t *testing.T) {
	t.Parallel()
	build := func(step, total int) bus.ProgressEvent { return ev("processing", step) }
	var p progressEvents
	p.interval = time.Hour
	out := &published{}
	p.holdUntilClaimed()
	require.True(t, p.holdEarly(1, 9))
	require.True(t, p.holdEarly(2, 9))
	require.Empty(t, out.get())
	p.begin(ev("processing", 0), out.publish)
	p.claimed(build, out.publish)
	require.Equal(t, []string{"processing:0", "processing:2"}, out.get())
	require.False(t, p.holdEarly(3, 9), "steps after the claim are not held for it")

	var failed progressEvents
	failed.holdUntilClaimed()
	require.True(t, failed.holdEarly(1, 9))
	failed.close()
	failed.claimed(build, out.publish)
	require.Len(t, out.get(), 2)
}

// TestCPUDeliveryClaimsBeforeItsModelRuns: on the CPU the claim's work
// would compete with the model, so the claim lands first.
func TestCPUDeliveryClaimsBeforeItsModelRuns(t *testing.T) {
	model := &scriptedModel{}
	f := modelFixture(t, model)
	d, _ := f.queuedDelivery(t, "cpu", job.Spec{Model: "demo", Prompt: "p", Steps: 1, NumImages: 1})
	d.slot = &slot{}
	model.atStart = func() {
		require.Equal(t, job.StatusProcessing, f.status(t, "cpu").Status, "claimed before the run")
	}

	require.Equal(t, []*delivery{d}, f.w.infer([]*delivery{d}))
	require.Len(t, model.ran(), 1)
}

// TestBatchOfFirstDeliveriesKeepsTheOnesItClaimed: in a batch run beside
// its claims, a delivery whose claim fails is dropped and the others go on,
// each recording the size of the run it was part of.
func TestBatchOfFirstDeliveriesKeepsTheOnesItClaimed(t *testing.T) {
	model := &scriptedModel{}
	f := modelFixture(t, model)
	spec := job.Spec{Model: "demo", Prompt: "p", Steps: 1, NumImages: 1}
	kept, _ := f.queuedDelivery(t, "kept", spec)
	gone, goneMsg := f.queuedDelivery(t, "gone-from-batch", spec)
	f.cancel(t, "gone-from-batch")

	ready := f.w.infer([]*delivery{kept, gone})

	require.Equal(t, []*delivery{kept}, ready)
	require.Equal(t, 2, kept.stages.BatchSize, "the run was a batch of two")
	require.Equal(t, []string{"ack"}, goneMsg.got())
	require.Len(t, model.ran(), 2)
}
