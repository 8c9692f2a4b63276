package e2e

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
)

// TestConsumerLossHeals deletes each service's consumer in turn while jobs
// flow, as `nats consumer rm` or a lost node would. The service notices,
// is not ready (/readyz 503) while its consumer is missing, and takes
// work again within seconds once the provision step, kept running as make
// run and deployments do, has re-created it; no process restarts and every
// job completes once.
func TestConsumerLossHeals(t *testing.T) {
	s := newFastStack(t)
	s.startSupervisor()
	ingest := s.startIngest()
	runnerAddr := freeAddr(t)
	runner := s.startRunner("runner-1", "CYBERIMAGE_RUNNER_ADDR="+runnerAddr)
	ready := map[string]string{
		bus.ConsumerIngest:         "http://" + s.ingestAddr + "/readyz",
		bus.RunnerConsumer("demo"): "http://" + runnerAddr + "/readyz",
		bus.ConsumerSupervisor:     s.url("/readyz"),
	}
	for _, u := range ready {
		waitURL(t, u)
	}
	streams := map[string]string{bus.ConsumerIngest: bus.StreamRequests, bus.RunnerConsumer("demo"): bus.StreamJobs,
		bus.ConsumerSupervisor: bus.StreamAdvisories}
	ctx := context.Background()
	var ids []string
	for round, consumer := range []string{bus.ConsumerIngest, bus.RunnerConsumer("demo"), bus.ConsumerSupervisor} {
		require.NoError(t, s.js.DeleteConsumer(ctx, streams[consumer], consumer))
		lost := time.Now()
		require.Eventually(t, func() bool { return status(ready[consumer]) == http.StatusServiceUnavailable }, 15*time.Second,
			50*time.Millisecond, "%s: not ready while its consumer is missing", consumer)
		t.Logf("%s: not ready %s after its consumer was deleted", consumer, time.Since(lost).Round(time.Millisecond))
		// Work sent while the consumer is missing waits for it.
		for i := range 2 {
			publish(t, s.nc, fmtReq(fmt.Sprintf("while %s is missing %d", consumer, i), 64, 64, 1, fmt.Sprintf(`,"request_id":"r%d-%d"`, round, i)))
			ids = append(ids, job.IDForRequestID(fmt.Sprintf("r%d-%d", round, i)))
		}
		stop := keepProvisioned(t, s)
		healed := time.Now()
		require.Eventually(t, func() bool { return status(ready[consumer]) == http.StatusOK }, 30*time.Second,
			50*time.Millisecond, "%s: ready again once its consumer is back", consumer)
		t.Logf("%s: ready %s after the provision step ran again", consumer, time.Since(healed).Round(time.Millisecond))
		for _, id := range ids {
			s.completedOnce(id, time.Minute)
		}
		stop()
	}
	requireStillRunning(t, ingest, runner)
}

// keepProvisioned runs the provision step's keep loop, as make run does,
// until the returned stop.
func keepProvisioned(t *testing.T, s *stack) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		bus.Keep(ctx, s.js, settingsFrom(t, s.env), 250*time.Millisecond, nil, modelsIn(t, s.env)...)
	}()
	return func() { cancel(); <-done }
}

func status(url string) int {
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}
