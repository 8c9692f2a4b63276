package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/tools/internal/benchstack"
)

// settledRSSKiB waits until a process's resident set stops changing (two
// reads half a second apart within 1 MiB), for at most 10 s, and returns
// it: what the process holds at rest.
func settledRSSKiB(t *testing.T, pid int) int {
	t.Helper()
	poll := time.NewTicker(500 * time.Millisecond)
	defer poll.Stop()
	last := vmRSSKiB(t, pid)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		<-poll.C
		now := vmRSSKiB(t, pid)
		if abs(now-last) <= 1024 {
			return now
		}
		last = now
	}
	t.Fatalf("RSS of %d still moving after 10 s: last %d KiB", pid, last)
	return 0
}

func abs(n int) int { return max(n, -n) }

// vmRSSKiB is readVmRSS, failing the test (or benchmark) if /proc cannot
// tell.
func vmRSSKiB(t testing.TB, pid int) int {
	t.Helper()
	kib, err := readVmRSS(pid)
	require.NoError(t, err)
	return kib
}

// readVmRSS is benchstack.ProcRSS's resident set in KiB (it reads whole
// kB, so MB*1024 is exact), or an error when /proc has none: the
// process is gone.
func readVmRSS(pid int) (int, error) {
	rss, _ := benchstack.ProcRSS(pid)
	if rss == 0 {
		return 0, fmt.Errorf("no VmRSS for pid %d", pid)
	}
	return int(rss * 1024), nil
}
