package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"cyberimage/shared/natsauth"
	"cyberimage/shared/testenv"
)

// TestIssueThenRevokeLive: the CLI issues a named client's credentials,
// which connect; `revoke --nats-url` closes that connection and refuses
// the file, while the other identities' files keep working.
func TestIssueThenRevokeLive(t *testing.T) {
	dir := t.TempDir()
	var out, errs bytes.Buffer
	if code := run([]string{"--out", dir, "--client", "alice", "--runner", "gpu-0"}, &out, &errs); code != 0 {
		t.Fatalf("issue: exit %d: %s", code, errs.String())
	}
	for _, f := range []string{"client.creds", "client.alice.creds", "runner.gpu-0.creds", "ingest.creds", "supervisor.creds", "admin.creds", "server-auth.conf"} {
		if !strings.Contains(out.String(), f) && f != "server-auth.conf" {
			t.Errorf("the summary does not name %s: %s", f, out.String())
		}
	}
	a, ok, err := natsauth.Load(dir)
	if err != nil || !ok {
		t.Fatalf("load: %v %v", ok, err)
	}
	n := testenv.StartNATSWithAuthority(t, a)
	closed := make(chan struct{})
	alice, err := nats.Connect(n.URL(), nats.UserCredentials(filepath.Join(dir, "client.alice.creds")),
		nats.MaxReconnects(0), nats.ClosedHandler(func(*nats.Conn) { close(closed) }))
	if err != nil {
		t.Fatalf("alice connects before the revocation: %v", err)
	}
	defer alice.Close()

	out.Reset()
	if code := run([]string{"revoke", "--out", dir, "--nats-url", n.URL(), "alice"}, &out, &errs); code != 0 {
		t.Fatalf("revoke: exit %d: %s", code, errs.String())
	}
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("alice's connection is open 5 s after the revocation")
	}
	if nc, err := nats.Connect(n.URL(), nats.UserCredentials(filepath.Join(dir, "client.alice.creds"))); err == nil {
		nc.Close()
		t.Fatal("alice's revoked file connects again")
	}
	nc, err := nats.Connect(n.URL(), nats.UserCredentials(filepath.Join(dir, "client.creds")))
	if err != nil {
		t.Fatalf("the default client was revoked too: %v", err)
	}
	nc.Close()
	if code := run([]string{"revoke", "--out", dir, "nobody"}, &out, &errs); code == 0 {
		t.Fatal("revoking a name never issued succeeds")
	}
}

// TestAccountLimitsFromTheCommandLine: --js-max-disk bounds the account in
// the authority the servers are configured from; a bound too small or
// unreadable is refused.
func TestAccountLimitsFromTheCommandLine(t *testing.T) {
	dir := t.TempDir()
	var out, errs bytes.Buffer
	if code := run([]string{"--out", dir, "--js-max-disk", "8GiB", "--js-max-mem", "128MiB"}, &out, &errs); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	a, _, err := natsauth.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	disk, mem, err := a.JetStreamLimits()
	if err != nil || disk != 8<<30 || mem != 128<<20 {
		t.Fatalf("limits: %d %d %v", disk, mem, err)
	}
	for _, bad := range []string{"1MiB", "lots", "-5GiB"} {
		if code := run([]string{"--out", dir, "--js-max-disk", bad}, &out, &errs); code == 0 {
			t.Errorf("--js-max-disk %s was taken", bad)
		}
	}
}

// TestNamingAnIdentityLeavesTheOthers: issuing a runner's or a client's
// file later leaves the role files the services run with as they are.
func TestNamingAnIdentityLeavesTheOthers(t *testing.T) {
	dir := t.TempDir()
	var out, errs bytes.Buffer
	if code := run([]string{"--out", dir}, &out, &errs); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	before, err := os.ReadFile(filepath.Join(dir, "ingest.creds"))
	if err != nil {
		t.Fatal(err)
	}
	if code := run([]string{"--out", dir, "--client", "bob", "--expires", "1h"}, &out, &errs); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	after, err := os.ReadFile(filepath.Join(dir, "ingest.creds"))
	if err != nil || !bytes.Equal(before, after) {
		t.Fatalf("ingest's credentials were issued again: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "client.bob.creds")); err != nil {
		t.Fatal(err)
	}
	if code := run([]string{"--out", dir}, &out, &errs); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	rotated, _ := os.ReadFile(filepath.Join(dir, "ingest.creds"))
	if bytes.Equal(before, rotated) {
		t.Fatal("a plain run did not rotate the role files")
	}
}
