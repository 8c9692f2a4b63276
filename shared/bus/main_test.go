package bus

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine running: Keep,
// WaitProvisioned and the connection helpers start their own.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
