package bus

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func startJetStream(t *testing.T) jetstream.JetStream {
	t.Helper()
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats not ready")
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// TestVerifyFindsMissingAndDifferentSettings: nothing provisioned is
// ErrNotProvisioned; what Ensure made with the same settings verifies; a
// service started with another AckWait or replica count is told which
// setting differs, and Verify changes nothing.
func TestVerifyFindsMissingAndDifferentSettings(t *testing.T) {
	js := startJetStream(t)
	ctx := context.Background()
	s := DefaultSettings()
	if err := Verify(ctx, js, s, "demo"); !errors.Is(err, ErrNotProvisioned) {
		t.Fatalf("before provisioning: %v", err)
	}
	if err := Ensure(ctx, js, s, "demo"); err != nil {
		t.Fatal(err)
	}
	if err := Verify(ctx, js, s, "demo"); err != nil {
		t.Fatalf("after provisioning: %v", err)
	}
	if err := Verify(ctx, js, s, "demo", "other"); !errors.Is(err, ErrNotProvisioned) || !strings.Contains(err.Error(), RunnerConsumer("other")) {
		t.Fatalf("an unprovisioned model: %v", err)
	}
	other := s
	other.AckWait = 2 * time.Minute
	other.MaxDeliver = 7
	err := Verify(ctx, js, other, "demo")
	if !errors.Is(err, ErrSettingsDiffer) || !strings.Contains(err.Error(), "CYBERIMAGE_ACK_WAIT") || !strings.Contains(err.Error(), "CYBERIMAGE_MAX_DELIVER") {
		t.Fatalf("other settings: %v", err)
	}
	cons, _ := js.Consumer(ctx, StreamJobs, RunnerConsumer("demo"))
	if got := cons.CachedInfo().Config.AckWait; got != s.AckWait {
		t.Fatalf("Verify changed the consumer: AckWait %s", got)
	}

	waited := 0
	err = WaitProvisioned(ctx, js, other, func(error) { waited++ }, "demo")
	if !errors.Is(err, ErrSettingsDiffer) || waited != 0 {
		t.Fatalf("WaitProvisioned with other settings: %v after %d waits", err, waited)
	}
}
