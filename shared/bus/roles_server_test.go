package bus_test

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"cyberimage/shared/bus"
	"cyberimage/shared/testenv"
)

// authServer starts a NATS server with the roles' accounts and returns it
// with admin's JetStream, which these tests use only to provision and
// inspect; what a service does runs on that role's connection.
func authServer(t *testing.T) (*testenv.NATS, jetstream.JetStream) {
	t.Helper()
	n := testenv.StartNATSWithAuth(t)
	_, admin := n.Connect(t)
	return n, admin
}

// provision makes the layout for models as admin, failing the test when
// it cannot.
func provision(t *testing.T, admin jetstream.JetStream, s bus.Settings, models ...string) {
	t.Helper()
	if err := bus.Ensure(context.Background(), admin, s, models...); err != nil {
		t.Fatal(err)
	}
}
