package heartbeat

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine running: the
// ticker loop must end with Stop.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
