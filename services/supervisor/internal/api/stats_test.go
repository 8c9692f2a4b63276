package api

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/services/supervisor/internal/recoveries"
	"cyberimage/services/supervisor/internal/stats"
	"cyberimage/services/supervisor/internal/watchdog"
	"cyberimage/shared/bus"
	"cyberimage/shared/job"
)

func withStats(rec *stats.Recorder) func(*Params) { return func(p *Params) { p.Stats = rec } }

func TestStatsWindows(t *testing.T) {
	rec := stats.New(nil, stats.Limits{})
	done := time.Now()
	rec.Ended(job.Record{JobID: "a", Status: job.StatusCompleted, Spec: job.Spec{Model: "demo"}, CreatedAt: done.Add(-2 * time.Second), CompletedAt: &done})
	rec.Depth(map[string]int{"demo": 3}, map[string]int{"high": 1})
	f := newAPIFixture(t, withStats(rec))
	f.put(t, job.Record{JobID: "q", Status: job.StatusQueued, CreatedAt: time.Now()})
	waitIndexed(t, f, 1)

	code, body := f.call(t, "GET", "/v1/stats")
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, "1h", body["window"])
	require.Len(t, body["times"], 60)
	require.EqualValues(t, 1, body["totals"].(map[string]any)["completed"])
	require.Contains(t, body["queue_depth"].(map[string]any)["by_model"], "demo")
	require.Nil(t, body["counts"], "counts come with a model")

	code, body = f.call(t, "GET", "/v1/stats?window=24h&model=demo")
	require.Equal(t, http.StatusOK, code, body)
	require.Len(t, body["times"], 144)
	require.EqualValues(t, 1, body["counts"].(map[string]any)["pending"], "the model's counts now")

	code, _ = f.call(t, "GET", "/v1/stats?window=7d")
	require.Equal(t, http.StatusBadRequest, code)
	code, _ = f.callWith(t, "GET", "/v1/stats", nil)
	require.Equal(t, http.StatusOK, code, "a read: open without a read token")

	off := newAPIFixture(t)
	code, _ = off.call(t, "GET", "/v1/stats")
	require.Equal(t, http.StatusNotFound, code, "no recorder, no figures")
}

// The runner page gathers what the supervisor knows of one runner: its
// load over time, recent jobs, recoveries and the watchdog's history.
func TestRunnerPage(t *testing.T) {
	rec := stats.New(nil, stats.Limits{})
	rec.Runner(stats.RunnerSample{Runner: "r1", Busy: 1, Slots: 2, GPUs: []bus.GPU{{Index: 0, UtilizationPercent: 50}}})
	start, done := time.Now().Add(-time.Second), time.Now()
	rec.Ended(job.Record{JobID: "j1", Status: job.StatusCompleted, Runner: "r1", StartedAt: &start, CompletedAt: &done})
	stall := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
	f := newAPIFixture(t, withStats(rec), func(p *Params) {
		p.RunnerHistory = func(_ context.Context, runner string) (watchdog.History, error) {
			if runner == "r2" {
				return watchdog.History{Stalls: []time.Time{stall}, ReloadOrder: "o-1"}, nil
			}
			return watchdog.History{}, nil
		}
	})
	f.srv.p.Recoveries.Add(recoveries.Recovery{At: time.Now(), Kind: recoveries.KindStalled, JobID: "j0", Runner: "r1", Reason: "stalled"})

	code, body := f.call(t, "GET", "/v1/runners/r1")
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, "r1", body["runner"])
	require.Nil(t, body["heartbeat"], "not heard from lately")
	require.Equal(t, "j1", body["recent_jobs"].([]any)[0].(map[string]any)["job_id"])
	require.Equal(t, "j0", body["recoveries"].([]any)[0].(map[string]any)["job_id"])
	series := body["series"].(map[string]any)
	busy := series["busy"].([]any)
	require.EqualValues(t, 1, busy[len(busy)-1])
	gpus := series["gpus"].([]any)
	require.EqualValues(t, 50, gpus[len(gpus)-1].([]any)[0].(map[string]any)["utilization_percent"])

	code, body = f.call(t, "GET", "/v1/runners/r2")
	require.Equal(t, http.StatusOK, code, "known by its history alone: %v", body)
	require.Equal(t, "o-1", body["history"].(map[string]any)["reload_order"])
	require.Len(t, body["history"].(map[string]any)["stalls"], 1)

	code, _ = f.call(t, "GET", "/v1/runners/nobody")
	require.Equal(t, http.StatusNotFound, code)
	code, _ = f.call(t, "GET", "/v1/runners/r1?window=1y")
	require.Equal(t, http.StatusBadRequest, code)
}
