package app

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"cyberimage/services/ingest/internal/config"
	"cyberimage/shared/natsauth"
	"cyberimage/shared/service"
	"cyberimage/shared/testenv"
)

// TestMain fails the package if a test leaves a goroutine running.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// load is ingest's configuration against n, with its own creds.
func load(t *testing.T, n *testenv.NATS, args ...string) config.Config {
	t.Helper()
	base := []string{"-nats-url", n.URL(), "-nats-creds", n.Creds(t, natsauth.Ingest, "ingest"),
		"-models-dir", filepath.Join(testenv.RepoRoot(t), "infra", "models"), "-ingest-addr", ""}
	cfg, err := config.Load(append(base, args...), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// Ingest is ready once the tally counted the records and the intake is
// bound, not before; without limits there is no tally to wait for.
func TestReadyOnceCountedAndBound(t *testing.T) {
	n := testenv.StartNATSWithAuth(t)
	n.Provisioned(t, "demo") // admin makes the layout, then hangs up
	for _, tc := range []struct {
		name, quotas string
		tally        bool
	}{
		{"quotas", "*=2/", true},
		{"no quotas", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			a, err := New(load(t, n, "-quotas", tc.quotas), zaptest.NewLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			var s service.Stack
			defer func() {
				if err := s.Stop(context.Background()); err != nil {
					t.Error(err)
				}
			}()
			if err := s.Start(ctx, a.Bus()); err != nil {
				t.Fatal(err)
			}
			a.Wire()
			if (a.quotas != nil) != tc.tally {
				t.Fatalf("tally made: %v, want %v", a.quotas != nil, tc.tally)
			}
			want := "not bound"
			if tc.tally {
				want = "counting"
			}
			if err := a.ready(); err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("ready before start = %v, want %q", err, want)
			}
			if err := s.Start(ctx, a.Summary(), a.Quotas(), a.Intake(), a.HTTP()); err != nil {
				t.Fatal(err)
			}
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for a.ready() != nil {
				select {
				case <-ctx.Done():
					t.Fatalf("not ready after start: %v", a.ready())
				case <-tick.C:
				}
			}
		})
	}
}

// A bad model folder stops ingest before it connects.
func TestNewNeedsTheModelCatalog(t *testing.T) {
	n := testenv.StartNATSWithAuth(t)
	if _, err := New(load(t, n, "-models-dir", t.TempDir()), zaptest.NewLogger(t)); err == nil {
		t.Fatal("New with no models: no error")
	}
}
