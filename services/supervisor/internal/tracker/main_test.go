package tracker

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine running: the
// pruning loop must end with Stop.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
