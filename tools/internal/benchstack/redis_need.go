package benchstack

import (
	"os"
	"os/exec"
	"testing"
)

// NeedRedis returns the path of redis-server for a test of the asynq
// comparison. Where it is missing the test skips, except in CI, where
// make test-tools installs it: there a missing server fails the test
// rather than passing it quietly.
func NeedRedis(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err == nil {
		return bin
	}
	const why = "redis-server not installed (apt-get install redis-server, or make test-tools)"
	if os.Getenv("CI") != "" {
		t.Fatal(why)
	}
	t.Skip(why)
	return ""
}
