package testenv

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// Violations collects the permission violations a NATS server reports to
// a connection: give it as the connection's error handler,
// nats.ErrorHandler(v.Note). Make it with room for the violations a test
// expects; more are dropped.
type Violations chan string

// Note keeps err if it is a permission violation.
func (v Violations) Note(_ *nats.Conn, _ *nats.Subscription, err error) {
	if err != nil && strings.Contains(strings.ToLower(err.Error()), "permissions violation") {
		select {
		case v <- err.Error():
		default:
		}
	}
}

// Refused reports whether the server refused what act did on nc (within
// 2 s), with the violation, or else what act returned.
func (v Violations) Refused(t testing.TB, nc *nats.Conn, act func() error) (bool, string) {
	t.Helper()
	for len(v) > 0 {
		<-v
	}
	err := act()
	_ = nc.Flush()
	select {
	case msg := <-v:
		return true, msg
	case <-time.After(2 * time.Second):
		if err == nil {
			return false, "no violation; action returned nil"
		}
		return false, "no violation; action returned " + err.Error()
	}
}
