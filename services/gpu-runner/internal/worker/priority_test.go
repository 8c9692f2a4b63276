package worker

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
)

// queued is how many jobs of a class a test queues.
type queued struct {
	class job.Priority
	n     int
}

// queueClasses publishes the work of each batch, batch after batch, and
// waits until each class's consumer counts it: the server tells consumers
// of new messages asynchronously, and until one has counted its work, a
// pull that does not wait finds it empty.
func queueClasses(t *testing.T, f *fateFixture, batches ...queued) {
	ctx := context.Background()
	want := map[job.Priority]uint64{}
	for _, b := range batches {
		for i := range b.n {
			queueWork(t, f, fmt.Sprintf("%s-%03d", b.class, i), b.class)
		}
		want[b.class] += uint64(b.n)
	}
	for class, n := range want {
		cons, err := f.w.p.JS.Consumer(ctx, bus.StreamJobs, bus.ClassConsumer("demo", class))
		require.NoError(t, err)
		var seen uint64
		require.Eventually(t, func() bool {
			info, err := cons.Info(ctx)
			require.NoError(t, err)
			seen = info.NumPending
			return seen == n
		}, 5*time.Second, 5*time.Millisecond, "the %s consumer counts %d jobs, not %d", class, seen, n)
	}
}

// queueWork publishes one job's work in class p.
func queueWork(t *testing.T, f *fateFixture, id string, p job.Priority) {
	w := bus.Work{JobID: id, Spec: job.Spec{Model: "demo", Priority: p}}
	_, err := f.w.p.JS.PublishMsg(context.Background(), bus.WorkMsg(w, bus.QueueMsgID(w.JobID)))
	require.NoError(t, err)
}

// pullClasses pulls n jobs as a free slot does, one pull after another,
// and returns the class of each in the order taken; each is acked.
func pullClasses(t *testing.T, f *fateFixture, n int) []job.Priority {
	f.w.p.Models = []string{"demo"}
	require.NoError(t, f.w.bindQueues(context.Background()))
	s := &slot{w: f.w, log: f.w.log, late: make(chan lateResult, len(f.w.queues)), waiting: make([]bool, len(f.w.queues))}
	var got []job.Priority
	for len(got) < n {
		ds := s.pull(time.Second)
		require.NotEmpty(t, ds, "a pull with work queued came back empty")
		for _, d := range ds {
			got = append(got, d.work.Spec.Priority)
			f.w.end(d, errAlreadyDone)
		}
	}
	s.drainLate()
	return got
}

// With a draw that always puts high first, a slot takes every high job,
// then normal, then low, whatever order they were queued in.
func TestPullTakesHigherClassesFirst(t *testing.T) {
	f := newFateFixture(t)
	f.w.p.Rand = func(int) int { return 0 }
	queueClasses(t, f, queued{job.PriorityLow, 5}, queued{job.PriorityNormal, 3}, queued{job.PriorityHigh, 4})
	want := []job.Priority{"high", "high", "high", "high", "normal", "normal", "normal", "low", "low", "low", "low", "low"}
	require.Equal(t, want, pullClasses(t, f, 12))
}

// Under load (a batch of low jobs queued before the interactive ones),
// high jobs overtake the batch by weight, 6:1 while both have work, and
// the batch is not starved meanwhile.
func TestPullWeighsClassesUnderLoad(t *testing.T) {
	f := newFateFixture(t)
	f.w.p.Rand = rand.New(rand.NewPCG(7, 11)).IntN
	queueClasses(t, f, queued{job.PriorityLow, 40}, queued{job.PriorityHigh, 40})
	got := pullClasses(t, f, 35) // both classes have work throughout
	lows, longest, run := 0, 0, 0
	for _, p := range got {
		if p == job.PriorityLow {
			lows++
			run = 0
			continue
		}
		run++
		longest = max(longest, run)
	}
	require.InDelta(t, 5, lows, 4, "low jobs in %d pulls: %v", len(got), got) // 35/7 expected
	require.Less(t, longest, 30, "high jobs ran %d pulls in a row: the batch starved", longest)
}

// A job not started by its deadline is ended at claim (cancelled,
// deadline_exceeded) and acked, and never reaches the model, on a GPU
// (where claims otherwise run beside the model) as on the CPU.
func TestClaimExpiresAJobPastItsDeadline(t *testing.T) {
	for _, gpu := range []bool{true, false} {
		model := &scriptedModel{}
		f := modelFixture(t, model)
		deadline := time.Now().Add(time.Minute)
		f.w.p.Clock = func() time.Time { return deadline.Add(time.Millisecond) }
		d, msg := f.queuedDelivery(t, "late", job.Spec{Model: "demo", Prompt: "p", Steps: 1, NumImages: 1, Deadline: deadline})
		if !gpu {
			d.slot.gpu = nil
		}

		require.Empty(t, f.w.infer([]*delivery{d}))

		require.Empty(t, model.ran(), "gpu %v: an expired job ran", gpu)
		require.Equal(t, []string{"ack"}, msg.got())
		rec := f.status(t, "late")
		require.Equal(t, job.StatusCancelled, rec.Status)
		require.Equal(t, job.CodeDeadlineExceeded, rec.Error.Code)
		require.Nil(t, rec.StartedAt)
	}
}

// The deadline is about starting: a job claimed before it goes on when it
// passes during the run.
func TestDeadlinePassingDuringTheRunLetsItFinish(t *testing.T) {
	deadline := time.Now().Add(time.Minute)
	now := deadline.Add(-time.Second)
	model := &scriptedModel{atStart: func() {}}
	f := modelFixture(t, model)
	var clock = func() time.Time { return now }
	f.w.p.Clock = func() time.Time { return clock() }
	model.atStart = func() { clock = func() time.Time { return deadline.Add(time.Hour) } }
	d, msg := f.queuedDelivery(t, "in-time", job.Spec{Model: "demo", Prompt: "p", Steps: 1, NumImages: 1, Deadline: deadline})
	d.slot.gpu = nil // claimed before the model starts

	require.Equal(t, []*delivery{d}, f.w.infer([]*delivery{d}))

	require.Len(t, model.ran(), 1)
	require.Empty(t, msg.got())
	require.Equal(t, job.StatusProcessing, f.status(t, "in-time").Status)
}

// A high job caught by a background wait of an earlier pull (left open on
// the high queue while the slot went on with a normal job) is the slot's
// next job: prefetching takes it first, so a busy runner that always finds
// more normal work does not hold it back until its queue runs dry.
func TestPrefetchTakesWhatABackgroundWaitBrought(t *testing.T) {
	f := newFateFixture(t)
	f.w.p.Models = []string{"demo"}
	require.NoError(t, f.w.bindQueues(context.Background()))
	s := &slot{w: f.w, log: f.w.log, late: make(chan lateResult, len(f.w.queues)), waiting: make([]bool, len(f.w.queues))}
	defer s.drainLate()

	pulled := make(chan []*delivery, 1)
	go func() { pulled <- s.pull(5 * time.Second) }() // every queue empty: it waits on all three
	require.Eventually(t, func() bool {
		for _, q := range f.w.queues {
			info, err := q.cons.Info(context.Background())
			if err != nil || info.NumWaiting == 0 {
				return false
			}
		}
		return true
	}, 5*time.Second, 5*time.Millisecond, "the pull opened no wait on some queue")
	queueWork(t, f, "normal", job.PriorityNormal)
	first := <-pulled
	require.Len(t, first, 1)
	require.Equal(t, job.PriorityNormal, first[0].work.Spec.Priority)
	f.w.end(first[0], errAlreadyDone)

	for i := range 3 {
		queueWork(t, f, fmt.Sprintf("batch-%d", i), job.PriorityLow)
	}
	queueWork(t, f, "interactive", job.PriorityHigh)
	require.Eventually(t, func() bool { return len(s.late) >= 2 }, 5*time.Second, 5*time.Millisecond,
		"the high and low waits still open brought nothing")

	next := <-s.prefetch()
	var got []string
	for _, d := range next {
		got = append(got, d.work.JobID)
		f.w.end(d, errAlreadyDone)
	}
	require.Contains(t, got, "interactive")
}
