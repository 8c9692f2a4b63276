package natsauth_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"cyberimage/shared/natsauth"
	"cyberimage/shared/testenv"
)

// TestRevokedCredsAreRefusedWithinSeconds: revoking an identity closes its
// live connection and refuses the same file at connect, without a server
// restart; other identities keep working.
func TestRevokedCredsAreRefusedWithinSeconds(t *testing.T) {
	n := testenv.StartNATSWithAuth(t)
	closed := make(chan struct{})
	mallory, _ := n.ConnectAsIdentity(t, natsauth.Client, "mallory",
		nats.MaxReconnects(0), nats.ClosedHandler(func(*nats.Conn) { close(closed) }))
	bystander, _ := n.ConnectAs(t, natsauth.Client)
	if !mallory.IsConnected() {
		t.Fatal("mallory is not connected before the revocation")
	}

	revoked, err := n.Auth.Revoke(natsauth.Client, "mallory")
	if err != nil || revoked != 1 {
		t.Fatalf("revoke: %d, %v", revoked, err)
	}
	sys, err := n.Auth.ConnectSystem(n.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := n.Auth.Push(ctx, sys); err != nil {
		t.Fatal(err)
	}
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the revoked connection is still open 5 s after the push")
	}
	if _, err := nats.Connect(n.URL(), nats.UserCredentials(n.Creds(t, natsauth.Client, "mallory"))); err == nil {
		t.Fatal("the revoked credentials connect again")
	}
	if err := bystander.Publish("cyberimage.requests", []byte(`{}`)); err != nil || bystander.Flush() != nil || !bystander.IsConnected() {
		t.Fatalf("another client was cut off too: %v", err)
	}
	if _, err := n.Auth.Revoke(natsauth.Client, "nobody"); !errors.Is(err, natsauth.ErrNothingToRevoke) {
		t.Fatalf("revoking an unknown name: %v", err)
	}
}

// TestExpiredCredsAreRefused: credentials issued with a lifetime stop
// working when it ends: the server refuses them at connect.
func TestExpiredCredsAreRefused(t *testing.T) {
	n := testenv.StartNATSWithAuth(t)
	path, err := n.Auth.SaveCreds(t.TempDir(), natsauth.Client, "brief", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// Polls the condition (a connect refused), bounded; no fixed wait.
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		nc, err := nats.Connect(n.URL(), nats.UserCredentials(path))
		if err != nil {
			break // refused: expired
		}
		nc.Close()
		select {
		case <-deadline:
			t.Fatal("credentials that expired after 1 s still connect 10 s later")
		case <-tick.C:
		}
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}

// TestAccountStorageIsBounded: with the account bounded, the pipeline
// provisions and works, and a stream asking for more than the bound is
// refused by the server, whichever role asks (here admin).
func TestAccountStorageIsBounded(t *testing.T) {
	a, err := natsauth.New()
	if err != nil {
		t.Fatal(err)
	}
	if err := a.SetJetStreamLimits(1<<20, 0); err == nil {
		t.Fatal("a bound too small for the pipeline's streams was taken")
	}
	if err := a.SetJetStreamLimits(natsauth.MinJetStreamDisk, 64<<20); err != nil {
		t.Fatal(err)
	}
	n := testenv.StartNATSWithAuthority(t, a)
	_, js := n.Provisioned(t, "demo")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "HOG", Subjects: []string{"hog.>"}, MaxBytes: 4 << 30}); err == nil {
		t.Fatal("a stream reserving 4 GiB was made in an account bounded to 2 GiB")
	}
	disk, mem, err := a.JetStreamLimits()
	if err != nil || disk != natsauth.MinJetStreamDisk || mem != 64<<20 {
		t.Fatalf("limits read back: %d %d %v", disk, mem, err)
	}
}
