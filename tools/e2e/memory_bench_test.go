package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// BenchmarkRunnerMemory runs 5,000 small jobs through one runner process
// and reports its resident memory after 200 and after 5,000 jobs: a leak
// of tensors, sessions or buffers shows as growth. Target: under 5%.
// `make bench-runner` runs it; it asserts only that the jobs completed.
func BenchmarkRunnerMemory(b *testing.B) {
	s := newStack(b)
	s.startIngest()
	runner := s.startRunner("runner-mem", "CYBERIMAGE_LOG_LEVEL=warn")
	submit := func(from, to int) {
		for i := from; i < to; i++ {
			publish(s.t, s.nc, fmtReq(fmt.Sprintf("memory %d", i), 64, 64, 1, fmt.Sprintf(`,"request_id":"mem-%d"`, i)))
		}
		require.NoError(b, s.nc.Flush())
		deadline := time.Now().Add(10 * time.Minute)
		poll := time.NewTicker(200 * time.Millisecond)
		defer poll.Stop()
		for time.Now().Before(deadline) {
			if s.completions.total() >= to {
				return
			}
			<-poll.C
		}
		b.Fatalf("jobs did not complete in time: %d of %d", s.completions.total(), to)
	}
	b.ResetTimer()
	submit(0, 200)
	after200 := vmRSSKiB(b, runner.cmd.Process.Pid)
	submit(200, 5000)
	after5000 := vmRSSKiB(b, runner.cmd.Process.Pid)
	growth := 100 * float64(after5000-after200) / float64(after200)
	b.ReportMetric(float64(after200)/1024, "rss_200_MiB")
	b.ReportMetric(float64(after5000)/1024, "rss_5000_MiB")
	b.ReportMetric(growth, "growth_%")
	b.Logf("runner RSS: %.1f MiB after 200 jobs, %.1f MiB after 5000 (%+.1f%%; target under 5%%)",
		float64(after200)/1024, float64(after5000)/1024, growth)
}
