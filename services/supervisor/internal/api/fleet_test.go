package api

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"cyberimage/services/supervisor/internal/drain"
	"cyberimage/services/supervisor/internal/leaderpass"
	"cyberimage/services/supervisor/internal/recoveries"
	"cyberimage/shared/bus"
	"cyberimage/shared/statusapi"
)

// scrape is the /metrics text.
func (f *apiFixture) scrape(t *testing.T) string {
	rec := f.send(t, "GET", "/metrics", "", "", bearer(testToken))
	require.Equal(t, http.StatusOK, rec.Code)
	return rec.Body.String()
}

// statusOf finds an entry of a /status list by its name field.
func statusOf(t *testing.T, f *apiFixture, list, field, name string) map[string]any {
	t.Helper()
	code, body := f.call(t, "GET", "/status")
	require.Equal(t, http.StatusOK, code, body)
	for _, e := range body[list].([]any) {
		if m := e.(map[string]any); m[field] == name {
			return m
		}
	}
	t.Fatalf("no %s %q in /status: %v", list, name, body[list])
	return nil
}

// TestPauseAndResumeAModel: an operator's pause pauses every class
// consumer of the model on the server; /status and /metrics say so, and
// resume ends it. Only the admin token may; an unknown model is 404.
func TestPauseAndResumeAModel(t *testing.T) {
	f := newAPIFixture(t)
	code, _ := f.callWith(t, "POST", "/v1/models/demo/pause", nil)
	require.Equal(t, http.StatusUnauthorized, code)
	require.False(t, statusOf(t, f, "models", "name", "demo")["paused"].(bool))

	code, body := f.call(t, "POST", "/v1/models/demo/pause")
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, true, body["paused"])
	for _, name := range bus.ModelConsumers("demo") {
		cons, err := f.srv.p.JS.Consumer(context.Background(), bus.StreamJobs, name)
		require.NoError(t, err)
		require.True(t, cons.CachedInfo().Paused, name)
	}
	code, body = f.call(t, "GET", "/status")
	require.Equal(t, http.StatusOK, code)
	require.Len(t, body["models"], 1, "a model's class consumers are not models: %v", body["models"])
	require.True(t, statusOf(t, f, "models", "name", "demo")["paused"].(bool))
	require.Contains(t, f.scrape(t), `cyberimage_model_paused{model="demo"} 1`)

	code, body = f.call(t, "POST", "/v1/models/demo/resume")
	require.Equal(t, http.StatusOK, code, body)
	require.False(t, statusOf(t, f, "models", "name", "demo")["paused"].(bool))
	require.Contains(t, f.scrape(t), `cyberimage_model_paused{model="demo"} 0`)

	code, _ = f.call(t, "POST", "/v1/models/nope/pause")
	require.Equal(t, http.StatusNotFound, code)
	code, _ = f.call(t, "POST", "/v1/models/a.b/pause")
	require.Equal(t, http.StatusBadRequest, code)
}

// drainable gives f drains and a tracker, and a runner r1 whose control
// orders arrive on orders; beat(draining) sends its heartbeat and waits
// until the tracker has it.
func drainable(t *testing.T, f *apiFixture) (orders chan *nats.Msg, beat func(draining bool)) {
	t.Helper()
	ctx := context.Background()
	kv, err := f.srv.p.JS.KeyValue(ctx, bus.BucketSupervisor)
	require.NoError(t, err)
	f.srv.p.Drains = drain.New(drain.Params{Set: drain.Set{KV: kv}, Runners: f.srv.p.Tracker, NC: f.srv.p.NC, Deps: leaderpass.Deps{Logger: zaptest.NewLogger(t)}})
	require.NoError(t, f.srv.p.Tracker.Start(ctx))
	t.Cleanup(func() { _ = f.srv.p.Tracker.Stop(context.Background()) })
	orders = make(chan *nats.Msg, 8)
	runner := f.runner(t, "r1")
	sub, err := runner.ChanSubscribe(bus.ControlSubject("r1"), orders)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return orders, func(draining bool) {
		hb := bus.Heartbeat{Runner: "r1", Boot: "b1", Models: []string{"demo"}, Slots: 1, At: time.Now(), Draining: draining}
		require.NoError(t, runner.Publish(bus.HeartbeatSubject("r1"), bus.EncodeHeartbeat(hb)))
		require.Eventually(t, func() bool { got, ok := f.srv.p.Tracker.Heartbeat("r1"); return ok && got.Draining == draining },
			5*time.Second, 10*time.Millisecond)
	}
}

// TestDrainAndUndrainARunner: a drain is recorded (every replica reads
// it), the runner is ordered at once, and /status and /metrics show it,
// with the order pending until the runner's heartbeat agrees. A runner
// never heard from cannot be drained.
func TestDrainAndUndrainARunner(t *testing.T) {
	f := newAPIFixture(t)
	orders, beat := drainable(t, f)

	code, _ := f.call(t, "POST", "/v1/runners/r1/drain")
	require.Equal(t, http.StatusNotFound, code, "not heard from")
	beat(false)
	require.False(t, statusOf(t, f, "runners", "runner", "r1")["draining"].(bool))

	code, body := f.call(t, "POST", "/v1/runners/r1/drain")
	require.Equal(t, http.StatusAccepted, code, body)
	order := <-orders
	c, err := bus.DecodeControl(order.Data)
	require.NoError(t, err)
	require.Equal(t, bus.ControlDrain, c.Action)
	r1 := statusOf(t, f, "runners", "runner", "r1")
	require.Equal(t, true, r1["draining"])
	require.Equal(t, true, r1["drain_pending"], "the heartbeat does not show it yet")
	beat(true)
	require.NotContains(t, statusOf(t, f, "runners", "runner", "r1"), "drain_pending")
	require.Contains(t, f.scrape(t), `cyberimage_runner_draining{runner="r1"} 1`)

	code, _ = f.call(t, "POST", "/v1/runners/r1/undrain")
	require.Equal(t, http.StatusAccepted, code)
	c, err = bus.DecodeControl((<-orders).Data)
	require.NoError(t, err)
	require.Equal(t, bus.ControlUndrain, c.Action)
	require.False(t, statusOf(t, f, "runners", "runner", "r1")["draining"].(bool))
	require.Contains(t, f.scrape(t), `cyberimage_runner_draining{runner="r1"} 0`)

	code, _ = f.callWith(t, "POST", "/v1/runners/r1/drain", nil)
	require.Equal(t, http.StatusUnauthorized, code)
	code, _ = f.call(t, "POST", "/v1/runners/a.b/undrain")
	require.Equal(t, http.StatusBadRequest, code)
}

// TestStatusDecodesAsStatusapi: GET /status decodes, with no field left
// over, into statusapi.Status, the type its readers (the CLI, the
// end-to-end tests) use: a drained runner, a paused model and a recovery
// arrive as written.
func TestStatusDecodesAsStatusapi(t *testing.T) {
	f := newAPIFixture(t)
	_, beat := drainable(t, f)
	beat(false)
	code, body := f.call(t, "POST", "/v1/runners/r1/drain")
	require.Equal(t, http.StatusAccepted, code, body)
	code, body = f.call(t, "POST", "/v1/models/demo/pause")
	require.Equal(t, http.StatusOK, code, body)
	at := time.Now().UTC().Truncate(time.Second)
	stalled := recoveries.Recovery{At: at, Kind: recoveries.KindStalled, JobID: "J1", Runner: "r1", Attempt: 2, Delivery: "d1",
		Reason: "no progress", ElapsedSeconds: 61.5}
	f.srv.p.Recoveries.Add(stalled)

	rec := f.send(t, "GET", "/status", "", "", bearer(testToken))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	dec := json.NewDecoder(rec.Body)
	dec.DisallowUnknownFields()
	var st statusapi.Status
	require.NoError(t, dec.Decode(&st))
	require.Len(t, st.Runners, 1)
	r1 := st.Runners[0]
	require.Equal(t, "r1", r1.Runner)
	require.Equal(t, "healthy", r1.Health)
	require.True(t, r1.Draining, "the operator's drain")
	require.True(t, r1.DrainPending, "the heartbeat does not show it yet")
	require.Equal(t, []statusapi.Model{{Name: "demo", Paused: true}}, st.Models)
	require.Equal(t, []statusapi.Recovery{stalled}, st.Recoveries)
	require.Equal(t, map[string]int64{recoveries.KindStalled: 1}, st.RecoveryCounts)
}
