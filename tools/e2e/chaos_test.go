package e2e

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
)

// TestChaos: 200 jobs through 3 runners while runners are killed -9 and
// restarted every two seconds, the NATS server restarts once (file store)
// and MinIO is down for 10 s. Every job must end completed exactly once
// with its images, and the supervisor's counts must agree with KV.
func TestChaos(t *testing.T) {
	const jobs = 200
	s := newFastStack(t, "CYBERIMAGE_MAX_STALLED_TIME=20s", "CYBERIMAGE_ABANDON_COOLOFF=1s")
	s.startServices()
	runners := map[string]*proc{}
	var mu sync.Mutex
	for i := range 3 {
		id := fmt.Sprintf("runner-%d", i)
		runners[id] = s.startRunner(id)
	}

	// Submit steadily for ten seconds so work is in flight through the
	// chaos. A core publish in flight when NATS dies is lost before the
	// stream stores it, so the client does what the contract tells clients
	// to do: request-reply with a request_id, and resend until ingest
	// answers (the request_id makes resending safe). A request counts as
	// accepted once answered.
	published := make(chan struct{})
	var unanswered []int
	go func() {
		defer close(published)
		for i := range jobs {
			size := 64 + 8*(i%9)
			payload := fmtReq(fmt.Sprintf("chaos %d", i), size, 64, 1+i%2, fmt.Sprintf(`,"request_id":"chaos-%d"`, i))
			answered := false
			for attempt := 0; attempt < 30 && !answered; attempt++ {
				msg, err := s.client.Request(bus.SubjectRequests, []byte(payload), 2*time.Second)
				answered = err == nil && strings.Contains(string(msg.Data), `"job_id"`)
			}
			if !answered {
				unanswered = append(unanswered, i)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()

	var kills, restarts int
	rng := rand.New(rand.NewPCG(1, 2))
	chaosEnd := time.Now().Add(24 * time.Second)
	natsRestarted, minioStopped, minioStarted := false, false, false
	start := time.Now()
	for time.Now().Before(chaosEnd) {
		time.Sleep(2 * time.Second)
		elapsed := time.Since(start)
		id := fmt.Sprintf("runner-%d", rng.IntN(3))
		mu.Lock()
		runners[id].kill()
		kills++
		mu.Unlock()
		switch {
		case !natsRestarted && elapsed > 4*time.Second:
			s.nats.Restart()
			natsRestarted = true
			t.Logf("%.1fs: NATS restarted", elapsed.Seconds())
		case !minioStopped && elapsed > 8*time.Second:
			s.minio.Stop()
			minioStopped = true
			t.Logf("%.1fs: MinIO stopped", elapsed.Seconds())
		case minioStopped && !minioStarted && elapsed > 18*time.Second:
			s.minio.Start()
			minioStarted = true
			t.Logf("%.1fs: MinIO started again", elapsed.Seconds())
		}
		p := s.start(id, "gpu-runner", "CYBERIMAGE_RUNNER_ID="+id)
		mu.Lock()
		runners[id] = p
		restarts++
		mu.Unlock()
	}
	if !minioStarted {
		s.minio.Start()
	}
	<-published
	require.Empty(t, unanswered, "requests never answered by ingest")

	recs := s.waitEnded(jobs, 3*time.Minute)
	o := tally(t, s, recs, "chaos", jobs, func(rec job.Record) { checkImages(t, s, rec) })
	t.Logf("chaos: %d jobs, %d runner kills, %d restarts, NATS restarted once, MinIO down 10s; %s",
		jobs, kills, restarts, o)
	o.requireNoneLost(t)
	requireAllCompletedAndDrained(t, s, jobs)
}
