package e2e

import (
	"encoding/json"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
)

// The steps most scenarios share: start the services around the runners,
// send a job and wait until a runner is at work on it, and check that jobs
// ended as the contract promises (completed, and written completed exactly
// once).

// startServices starts the supervisor, ingest and the named runners, in
// that order, each waited for until it serves; it returns their processes,
// which a chaos test requires never restarted.
func (s *stack) startServices(runners ...string) []*proc {
	s.t.Helper()
	procs := []*proc{s.startSupervisor(), s.startIngest()}
	for _, id := range runners {
		procs = append(procs, s.startRunner(id))
	}
	return procs
}

// startFront starts the supervisor and ingest, the services a scenario runs
// before its runners, and collects every job's progress events from then
// on.
func (s *stack) startFront() *events {
	s.t.Helper()
	s.startServices()
	return collectEvents(s.t, s.nc)
}

// startAll is startFront and one runner: the whole pipeline.
func (s *stack) startAll(runner string, env ...string) *events {
	s.t.Helper()
	ev := s.startFront()
	s.startRunner(runner, env...)
	return ev
}

// requestUntil sends payload as a client and waits until runner reports
// step of the job it becomes: the moment a scenario disturbs a job in
// flight.
func (s *stack) requestUntil(ev *events, runner string, step int, payload string) bus.RequestReply {
	s.t.Helper()
	r := request(s.t, s.client, payload)
	waitStep(s.t, ev.ch, r.JobID, runner, step)
	return r
}

// requireCompletedOnce fails unless each job named (every job of recs when
// none is) completed in recs and was written completed exactly once.
func (s *stack) requireCompletedOnce(recs map[string]job.Record, ids ...string) {
	s.t.Helper()
	if len(ids) == 0 {
		for id := range recs {
			ids = append(ids, id)
		}
	}
	for _, id := range ids {
		require.Equal(s.t, job.StatusCompleted, recs[id].Status, id)
		require.Equal(s.t, 1, s.completions.of(id), "job %s written completed exactly once", id)
	}
}

// completedOn waits (up to limit) until every job sent so far has ended and
// returns the record of id, failing unless it completed on runner, written
// completed exactly once.
func (s *stack) completedOn(runner, id string, limit time.Duration) job.Record {
	s.t.Helper()
	recs := s.waitEnded(1, limit)
	s.requireCompletedOnce(recs, id)
	require.Equal(s.t, runner, recs[id].Runner, "the job completed on %s", runner)
	return recs[id]
}

// completedOnce waits (up to limit) until the job's record is completed
// and returns it, failing unless it was written completed exactly once.
func (s *stack) completedOnce(id string, limit time.Duration) job.Record {
	s.t.Helper()
	rec := waitCompleted(s.t, s, id, limit)
	s.requireCompletedOnce(map[string]job.Record{id: rec})
	return rec
}

// requireStillRunning fails if any of procs has exited: the services of a
// scenario that must not cost a restart.
func requireStillRunning(t testing.TB, procs ...*proc) {
	t.Helper()
	for _, p := range procs {
		require.NoError(t, syscall.Kill(p.cmd.Process.Pid, 0), "%s still runs with the same PID", p.name)
		select {
		case <-p.exited:
			t.Fatalf("%s exited", p.name)
		default:
		}
	}
}

// onEvents calls f with every job's progress event, from now until the test
// ends.
func onEvents(t testing.TB, nc *nats.Conn, f func(bus.ProgressEvent)) {
	t.Helper()
	sub, err := nc.Subscribe(bus.SubjectEventsAll, func(m *nats.Msg) {
		var e bus.ProgressEvent
		if json.Unmarshal(m.Data, &e) == nil {
			f(e)
		}
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Unsubscribe() })
}

// nextEvent waits (up to limit) for the next event of events that match
// accepts.
func nextEvent(events <-chan bus.ProgressEvent, limit time.Duration, match func(bus.ProgressEvent) bool) (bus.ProgressEvent, bool) {
	timeout := time.After(limit)
	for {
		select {
		case e := <-events:
			if match(e) {
				return e, true
			}
		case <-timeout:
			return bus.ProgressEvent{}, false
		}
	}
}

// waitHeartbeat waits (up to limit) until a heartbeat on sub, a runner's
// heartbeat subject, satisfies match.
func waitHeartbeat(t testing.TB, sub *nats.Subscription, limit time.Duration, match func(bus.Heartbeat) bool, msgAndArgs ...any) {
	t.Helper()
	require.Eventually(t, func() bool {
		m, err := sub.NextMsg(time.Second)
		if err != nil {
			return false
		}
		h, err := bus.DecodeHeartbeat(m.Data)
		return err == nil && match(h)
	}, limit, 10*time.Millisecond, msgAndArgs...)
}
