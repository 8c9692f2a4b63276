package stats

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
)

// clock is a fake clock the tests move by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func setup(t *testing.T, limits Limits) (*Recorder, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2025, 3, 1, 12, 0, 30, 0, time.UTC)}
	return New(c.now, limits), c
}

// ended is a record that ended now, created wait+run before, started
// after wait.
func endedRecord(c *clock, id, model, runner string, s job.Status, wait, run time.Duration) job.Record {
	done := c.t
	start := done.Add(-run)
	return job.Record{JobID: id, Status: s, Spec: job.Spec{Model: model}, Runner: runner,
		CreatedAt: start.Add(-wait), StartedAt: &start, CompletedAt: &done}
}

func TestEndedCountsPerMinuteAndModel(t *testing.T) {
	r, c := setup(t, Limits{})
	r.Ended(endedRecord(c, "a", "demo", "r1", job.StatusCompleted, time.Second, 2*time.Second))
	r.Ended(endedRecord(c, "b", "demo", "r1", job.StatusFailed, time.Second, time.Second))
	r.Ended(endedRecord(c, "c", "sd", "r2", job.StatusCancelled, 0, 0))
	r.Ended(job.Record{JobID: "d", Status: job.StatusRejected}) // never was work
	r.Ended(job.Record{JobID: "e", Status: job.StatusQueued})   // has not ended
	c.advance(time.Minute)
	r.Ended(endedRecord(c, "f", "sd", "r2", job.StatusCompleted, time.Second, time.Second))

	s, err := r.Series("1h", "")
	require.NoError(t, err)
	require.Len(t, s.Times, 60)
	require.Equal(t, 60, s.StepSeconds)
	last := len(s.Times) - 1
	require.Equal(t, c.t.Truncate(time.Minute), s.Times[last], "the last point is the current minute")
	require.Equal(t, []uint32{1, 1}, []uint32{s.Completed[last-1], s.Completed[last]})
	require.Equal(t, uint32(1), s.Failed[last-1])
	require.Equal(t, uint32(1), s.Cancelled[last-1])
	require.Equal(t, Totals{Completed: 2, Failed: 1, Cancelled: 1}, Totals{Completed: s.Totals.Completed, Failed: s.Totals.Failed, Cancelled: s.Totals.Cancelled})
	require.Nil(t, s.EndToEndMS.P50[0], "no job ended in the first minute: no value, not zero")

	m, err := r.Series("1h", "sd")
	require.NoError(t, err)
	require.Equal(t, "sd", m.Model)
	require.Equal(t, uint64(1), m.Totals.Completed)
	require.Equal(t, uint64(1), m.Totals.Cancelled)
	require.Zero(t, m.Totals.Failed)

	_, err = r.Series("7d", "")
	require.ErrorIs(t, err, ErrWindow)
}

func TestLatencyPercentiles(t *testing.T) {
	r, c := setup(t, Limits{})
	// 100 jobs: end to end 1..100 s, queue wait a tenth of it.
	for i := 1; i <= 100; i++ {
		total := time.Duration(i) * time.Second
		r.Ended(endedRecord(c, fmt.Sprint(i), "demo", "", job.StatusCompleted, total/10, total-total/10))
	}
	s, err := r.Series("1h", "")
	require.NoError(t, err)
	tot := s.Totals.EndToEndMS
	require.Equal(t, uint64(100), tot.Count)
	within := func(want, got float64) {
		t.Helper()
		require.InEpsilon(t, want, got, binGrowth-1, "want about %v, got %v", want, got) // one bin's width
	}
	within(50_000, *tot.P50)
	within(95_000, *tot.P95)
	within(99_000, *tot.P99)
	within(5_000, *s.Totals.QueueWaitMS.P50)
	last := len(s.Times) - 1
	within(50_000, *s.EndToEndMS.P50[last])

	// The runner's own measure of the wait wins over the timestamps.
	rec := endedRecord(c, "x", "demo", "", job.StatusFailed, time.Hour, time.Second)
	rec.Stages.QueueWaitMS = 7
	r2, _ := setup(t, Limits{})
	r2.Ended(rec)
	s2, _ := r2.Series("1h", "")
	require.LessOrEqual(t, *s2.Totals.QueueWaitMS.P50, binFirst)
	require.Zero(t, s2.Totals.EndToEndMS.Count, "a failed job has no end-to-end latency")
}

func TestHistogramEdges(t *testing.T) {
	var h hist
	_, ok := h.quantile(0.5)
	require.False(t, ok)
	h.add(-1)
	h.add(math.NaN())
	require.Zero(t, h.count(), "nonsense is not counted")
	h.add(1e12) // beyond the last bound
	v, ok := h.quantile(0.99)
	require.True(t, ok)
	require.Equal(t, upper[bins-2], v)
	require.Greater(t, upper[bins-2], float64(time.Hour/time.Millisecond), "the bins reach past an hour")
}

// Minutes older than the span roll out of the ring; the ring does not
// grow however long the recorder runs.
func TestRolloverWithTheClock(t *testing.T) {
	r, c := setup(t, Limits{})
	r.Ended(endedRecord(c, "old", "demo", "", job.StatusCompleted, 0, time.Second))
	r.Depth(map[string]int{"demo": 5}, nil)

	c.advance(30 * time.Minute)
	s, _ := r.Series("1h", "")
	require.Equal(t, uint64(1), s.Totals.Completed, "half an hour later it is in the hour")
	c.advance(31 * time.Minute)
	s, _ = r.Series("1h", "")
	require.Zero(t, s.Totals.Completed, "an hour later it has left the hour")
	d, _ := r.Series("24h", "")
	require.Equal(t, uint64(1), d.Totals.Completed, "but not the day")
	require.Len(t, d.Times, 144)
	require.Equal(t, 600, d.StepSeconds)
	require.Equal(t, 5, *d.QueueDepth.ByModel["demo"][len(d.Times)-7])

	// The slot of that minute is reused exactly a day later: what it
	// held must not be read as this minute's.
	c.advance(Span - 61*time.Minute)
	r.Ended(endedRecord(c, "new", "demo", "", job.StatusFailed, 0, time.Second))
	d, _ = r.Series("24h", "")
	require.Equal(t, uint64(0), d.Totals.Completed)
	require.Equal(t, uint64(1), d.Totals.Failed)
	require.Len(t, r.ring, slots, "the ring is fixed")

	// A day and more of traffic leaves nothing older than a day.
	for range 2 * slots {
		c.advance(time.Minute)
		r.Ended(endedRecord(c, "x", "demo", "", job.StatusCompleted, 0, time.Second))
	}
	d, _ = r.Series("24h", "")
	require.LessOrEqual(t, d.Totals.Completed, uint64(slots+9), "at most a day (and the aligned step's few minutes)")
	require.GreaterOrEqual(t, d.Totals.Completed, uint64(slots-9))
}

// The 24 h window's points are aligned to ten minutes: a point keeps its
// minutes as time moves on.
func TestDayStepsAreAligned(t *testing.T) {
	r, c := setup(t, Limits{})
	c.t = time.Date(2025, 3, 1, 12, 3, 0, 0, time.UTC)
	r.Ended(endedRecord(c, "a", "demo", "", job.StatusCompleted, 0, time.Second))
	c.advance(5 * time.Minute)
	r.Ended(endedRecord(c, "b", "demo", "", job.StatusCompleted, 0, time.Second))
	d, _ := r.Series("24h", "")
	last := len(d.Times) - 1
	require.Equal(t, time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC), d.Times[last])
	require.Equal(t, uint32(2), d.Completed[last])
}

func TestDepthKeepsTheMinutesHighestSample(t *testing.T) {
	r, c := setup(t, Limits{Labels: 2})
	r.Depth(map[string]int{"a": 3, "b": 1}, map[string]int{"high": 2})
	r.Depth(map[string]int{"a": 1, "b": 4}, nil)
	// Labels past the cap fold into Other, summed within a sample.
	r.Depth(map[string]int{"c": 2, "d": 5}, nil)
	s, _ := r.Series("1h", "")
	last := len(s.Times) - 1
	require.Equal(t, 3, *s.QueueDepth.ByModel["a"][last])
	require.Equal(t, 4, *s.QueueDepth.ByModel["b"][last])
	require.Equal(t, 7, *s.QueueDepth.ByModel[Other][last])
	require.Equal(t, 2, *s.QueueDepth.ByPriority["high"][last])
	require.Len(t, s.QueueDepth.ByModel, 3, "two labels and other")
	require.Nil(t, s.QueueDepth.ByModel["a"][last-1], "no sample, no value")
	c.advance(time.Minute)
	m, _ := r.Series("1h", "b")
	require.Len(t, m.QueueDepth.ByModel, 1)
	require.Empty(t, m.QueueDepth.ByPriority, "priorities are not by model")
}

func TestRunnersAreBounded(t *testing.T) {
	r, c := setup(t, Limits{Runners: 2, GPUs: 1, RecentJobs: 3})
	gpus := []bus.GPU{{Index: 0, UtilizationPercent: 80, MemoryUsed: 3 << 30, MemoryTotal: 8 << 30, TemperatureC: 70, PowerWatts: 200}, {Index: 1}}
	r.Runner(RunnerSample{Runner: "r1", Busy: 1, Slots: 2, GPUs: gpus})
	c.advance(time.Minute)
	r.Runner(RunnerSample{Runner: "r2", Busy: 0, Slots: 1})
	c.advance(time.Second)
	for i := range 5 {
		r.Ended(endedRecord(c, fmt.Sprint("j", i), "demo", "r1", job.StatusCompleted, 0, time.Second))
	}
	s, ok, err := r.RunnerSeries("r1", "1h")
	require.NoError(t, err)
	require.True(t, ok)
	last := len(s.Times) - 1
	require.Equal(t, 1, *s.Busy[last-1])
	require.Equal(t, 2, *s.Slots[last-1])
	require.Nil(t, s.Busy[last], "no heartbeat sampled this minute")
	require.Equal(t, []GPUSample{{Index: 0, UtilizationPercent: 80, MemoryUsedMiB: 3072, MemoryTotalMiB: 8192, TemperatureC: 70, PowerWatts: 200}}, s.GPUs[last-1], "GPUs capped")
	require.Len(t, s.Recent, 3, "recent jobs capped")
	require.Equal(t, "j4", s.Recent[0].JobID, "newest first")
	require.InDelta(t, 1, s.Recent[0].Seconds, 0.001)

	// A third runner evicts the one heard from least recently (r2: r1's
	// jobs were heard after it).
	c.advance(time.Minute)
	r.Runner(RunnerSample{Runner: "r3"})
	require.Len(t, r.runners, 2)
	_, ok, _ = r.RunnerSeries("r2", "1h")
	require.False(t, ok)
	_, ok, _ = r.RunnerSeries("r1", "24h")
	require.True(t, ok)
}

// Sample feeds the recorder from the queue and the runners it is given.
func TestSampleTakesQueueAndRunners(t *testing.T) {
	r, _ := setup(t, Limits{})
	s := NewSampler(Params{Recorder: r, Logger: zap.NewNop(),
		Queue: func(context.Context) (map[string]int, map[string]int, error) {
			return map[string]int{"demo": 4}, map[string]int{"high": 1}, nil
		},
		Runners: func() []RunnerSample { return []RunnerSample{{Runner: "r1", Busy: 2, Slots: 2}} }})
	s.Sample(t.Context())
	series, _ := r.Series("1h", "")
	last := len(series.Times) - 1
	require.Equal(t, 4, *series.QueueDepth.ByModel["demo"][last])
	require.Equal(t, 1, *series.QueueDepth.ByPriority["high"][last])
	rs, ok, _ := r.RunnerSeries("r1", "1h")
	require.True(t, ok)
	require.Equal(t, 2, *rs.Busy[last])
}

func TestClassOfReadsConsumerFilters(t *testing.T) {
	for filter, want := range map[string][2]string{
		"cyberimage.jobs.demo.*":      {"demo", "normal"},
		"cyberimage.jobs.sd-x.high.*": {"sd-x", "high"},
		"cyberimage.jobs.>":           {},
		"cyberimage.dlq.demo.*":       {},
		"":                            {},
	} {
		model, class, ok := classOf(filter)
		require.Equal(t, want != [2]string{}, ok, filter)
		require.Equal(t, want, [2]string{model, class}, filter)
	}
}
