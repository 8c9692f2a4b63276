package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
)

// junk is what the spray sends on every subject.
var junk = []string{"", " ", "\t\n  ", "null", "[]", "{", "{}", `{"runner":""}`, `{"job_id":"a.b"}`, "+TERM",
	`{"action":"format","job_id":"x"}`, strings.Repeat("{", 10000), strings.Repeat("z", 70<<10), "\x00\x01\x02"}

// TestHostileMessagesChangeNothing sprays malformed, empty, huge and
// forged messages on every subject a service subscribes to while real
// jobs run: no process restarts (same PIDs), every job completes once,
// and the junk is counted.
func TestHostileMessagesChangeNothing(t *testing.T) {
	s := newFastStack(t)
	sup := s.startSupervisor()
	ingest := s.startIngest()
	runner := s.startRunner("runner-1")
	var jobs []string
	for i := range 10 {
		jobs = append(jobs, request(t, s.client, fmtReq(fmt.Sprintf("under fire %d", i), 128, 128, 1, `,"steps":4`)).JobID)
	}
	subjects := []string{
		bus.SubjectRequests,
		bus.HeartbeatSubject("runner-1"), bus.HeartbeatSubject("nobody"),
		bus.EventSubject(jobs[0]), bus.EventSubject("ghost"),
		bus.ControlSubject("runner-1"),
		"$JS.ACK." + bus.StreamJobs + "." + bus.RunnerConsumer("demo") + ".1.999999.1.1.0",
		"$JS.ACK." + bus.StreamJobs + ".x.y",
		"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + bus.StreamJobs + "." + bus.RunnerConsumer("demo"),
		"$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED." + bus.StreamJobs + "." + bus.RunnerConsumer("demo"),
		bus.JobSubject("demo", "JUNKWORK"),
	}
	// The supervisor hears events only while someone watches them (a
	// console on /v1/events): watch every job, so the junk events reach it
	// and must be counted there.
	watchAllEvents(t, s.url("/v1/events"))
	forgedAdvisory := fmt.Sprintf(`{"type":%q,"stream":%q,"consumer":%q,"stream_seq":1,"deliveries":9,"reason":%q}`,
		bus.AdvisoryTerminated, bus.StreamJobs, bus.RunnerConsumer("demo"), bus.TermReason(jobs[0], "forged"))
	for round := range 3 {
		for _, subject := range subjects {
			for _, payload := range append(junk, forgedAdvisory) {
				require.NoError(t, s.nc.Publish(subject, []byte(payload)), "round %d", round)
			}
		}
		require.NoError(t, s.nc.Flush())
	}
	for i := range 5 {
		jobs = append(jobs, request(t, s.client, fmtReq(fmt.Sprintf("after the spray %d", i), 64, 64, 1, "")).JobID)
	}

	deadline := time.Now().Add(2 * time.Minute)
	for _, id := range jobs {
		s.completedOnce(id, time.Until(deadline))
	}
	requireStillRunning(t, sup, ingest, runner)

	metrics := scrape(t, s.url("/metrics"))
	for _, kind := range []string{"junk:heartbeat", "junk:event", "junk:ack", "junk:advisory", "unbelieved:advisory"} {
		require.Greater(t, metricValue(metrics, `cyberimage_bus_dropped_total{kind="`+kind+`"}`), 0.0, "%s counted:\n%s", kind, metrics)
	}
	require.Eventually(t, func() bool { return lastHeartbeat(t, s, "runner-1").Dropped > 0 }, 10*time.Second, 100*time.Millisecond,
		"the runner counts the junk orders and work it dropped")
}

// watchAllEvents holds an all-jobs /v1/events stream open until the test
// ends, reading it as a console does, once the supervisor has answered it.
func watchAllEvents(t *testing.T, url string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	t.Cleanup(func() { resp.Body.Close() })
	first := make([]byte, 1)
	_, err = resp.Body.Read(first)
	require.NoError(t, err, "the stream's opening comment")
	go func() { _, _ = io.Copy(io.Discard, resp.Body) }()
}

// TestForgedOrdersChangeNothing: orders about a delivery the runner does
// not hold, or past their expiry, or that do not decode leave the job
// running; the same order naming the right delivery stops it.
func TestForgedOrdersChangeNothing(t *testing.T) {
	s := newFastStack(t, "CYBERIMAGE_ACK_WAIT=30s")
	s.startIngest()
	ev := collectEvents(t, s.nc)
	s.startRunner("runner-1", "CYBERIMAGE_FAULT_HANG_PROMPT=HANG")
	r := s.requestUntil(ev, "runner-1", 1, fmtReq("HANG for the forgers", 64, 64, 1, ""))
	rec := waitStatus(t, s, r.JobID, job.StatusProcessing)
	token := rec.Delivery.Token()
	order := func(c bus.Control) {
		data, _ := json.Marshal(c)
		require.NoError(t, s.nc.Publish(bus.ControlSubject("runner-1"), data))
	}
	now := time.Now().UTC()
	order(bus.Control{Action: bus.ControlAbandon, JobID: r.JobID, Delivery: "999.1", ExpiresAt: now.Add(time.Minute)})
	order(bus.Control{Action: bus.ControlAbandon, JobID: r.JobID, ExpiresAt: now.Add(time.Minute)})
	order(bus.Control{Action: bus.ControlCancel, JobID: r.JobID, Delivery: token, ExpiresAt: now.Add(-time.Hour)})
	order(bus.Control{Action: bus.ControlAbandon, JobID: "someone-else", Delivery: token, ExpiresAt: now.Add(time.Minute)})
	require.NoError(t, s.nc.Flush())
	// The scenario, not a wait for a result: a second in which the runner
	// must leave the job alone (ignoring the orders leaves nothing to wait
	// for); the heartbeat read next then shows it still busy.
	time.Sleep(time.Second)
	require.Equal(t, 1, lastHeartbeat(t, s, "runner-1").Busy, "the job still runs")
	require.EqualValues(t, 2, lastHeartbeat(t, s, "runner-1").Dropped, "the undecodable and the expired order counted")

	order(bus.Control{Action: bus.ControlAbandon, JobID: r.JobID, Delivery: token, ExpiresAt: now.Add(time.Minute)})
	require.Eventually(t, func() bool { return lastHeartbeat(t, s, "runner-1").Busy == 0 }, 10*time.Second, 50*time.Millisecond,
		"the genuine order stops it")
}

func waitStatus(t *testing.T, s *stack, id string, status job.Status) job.Record {
	t.Helper()
	var rec job.Record
	require.Eventually(t, func() bool {
		r, _, err := s.store.Get(t.Context(), id)
		rec = r
		return err == nil && r.Status == status
	}, 30*time.Second, 20*time.Millisecond, "job %s %s", id, status)
	return rec
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(body)
}

// metricValue reads one series' value from a Prometheus text scrape (0 if
// absent).
func metricValue(scrape, series string) float64 {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(scrape)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}
