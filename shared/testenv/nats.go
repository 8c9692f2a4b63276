package testenv

import (
	"context"
	"net"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"cyberimage/shared/bus"
	"cyberimage/shared/natsauth"
)

// NATS is an in-process JetStream server with its store in a temp dir.
type NATS struct {
	t      testing.TB
	opts   server.Options
	Server *server.Server
	// With StartNATSWithAuth: the authority the server trusts and the
	// folder holding one credentials file per role (natsauth.CredsPath).
	Auth     *natsauth.Authority
	CredsDir string
	// With StartNATSWithTLS: the CA file clients verify the server with.
	CAFile string
	// urls, when set, is a cluster's list of nodes (Cluster.NATS); there is
	// no in-process Server then.
	urls string
}

// StartNATS starts a JetStream server on a random loopback port; it stops
// when the test ends.
func StartNATS(t testing.TB) *NATS {
	t.Helper()
	return startNATS(t, nil)
}

// StartNATSWithAuth starts a server in operator mode that trusts a fresh
// authority: every client needs the credentials of a role, and each role
// may do only what its allow lists say. Connect uses the admin role.
func StartNATSWithAuth(t testing.TB) *NATS {
	t.Helper()
	return startNATS(t, newAuthority(t))
}

// StartNATSWithAuthority is StartNATSWithAuth trusting a given authority
// (one a tool under test made).
func StartNATSWithAuthority(t testing.TB, auth *natsauth.Authority) *NATS {
	t.Helper()
	return startNATS(t, auth)
}

// StartNATSWithTLS is StartNATSWithAuth with TLS required: clients verify
// the server with CAFile.
func StartNATSWithTLS(t testing.TB) *NATS {
	t.Helper()
	files := NewTLS(t)
	return startNATSWith(t, newAuthority(t), &files)
}

// newAuthority makes a fresh authority for a server to trust.
func newAuthority(t testing.TB) *natsauth.Authority {
	t.Helper()
	auth, err := natsauth.New()
	if err != nil {
		t.Fatalf("nats authority: %v", err)
	}
	return auth
}

func startNATS(t testing.TB, auth *natsauth.Authority) *NATS {
	return startNATSWith(t, auth, nil)
}

func startNATSWith(t testing.TB, auth *natsauth.Authority, tlsFiles *TLSFiles) *NATS {
	n := &NATS{t: t, Auth: auth, opts: server.Options{
		Host:      "127.0.0.1",
		Port:      server.RANDOM_PORT,
		JetStream: true,
		StoreDir:  t.TempDir(),
		NoLog:     true,
		NoSigs:    true,
	}}
	if tlsFiles != nil {
		n.opts.TLS = true
		n.opts.TLSConfig = tlsFiles.ServerConfig
		n.CAFile = tlsFiles.CAFile
	}
	if auth != nil {
		if err := auth.Configure(&n.opts); err != nil {
			t.Fatalf("nats authority: %v", err)
		}
		n.CredsDir = t.TempDir()
		if err := auth.Save(n.CredsDir); err != nil {
			t.Fatalf("nats credentials: %v", err)
		}
	}
	n.start()
	// Restarts reuse the port clients reconnect to.
	n.opts.Port = n.Server.Addr().(*net.TCPAddr).Port
	t.Cleanup(n.Stop)
	return n
}

func (n *NATS) start() {
	n.t.Helper()
	opts := n.opts
	s, err := server.NewServer(&opts)
	if err != nil {
		n.t.Fatalf("nats server: %v", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		n.t.Fatalf("nats server not ready")
	}
	n.Server = s
}

// URL is the client URL.
func (n *NATS) URL() string {
	if n.urls != "" {
		return n.urls
	}
	return n.Server.ClientURL()
}

// Stop shuts the server down and waits for it; safe to call twice.
func (n *NATS) Stop() {
	if n.Server != nil {
		n.Server.Shutdown()
		n.Server.WaitForShutdown()
	}
}

// Restart stops the server and starts it again on the same port and store,
// as a crash and restart of the NATS process would.
func (n *NATS) Restart() {
	n.t.Helper()
	n.Stop()
	n.start()
}

// Connect opens a client connection closed at test end, and a JetStream
// context on it.
func (n *NATS) Connect(t testing.TB) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	return n.ConnectAs(t, natsauth.Admin)
}

// Provisioned connects as admin and provisions the pipeline's streams,
// consumers (the runners' of each model named) and buckets with the
// default settings, as make run does before any service starts.
func (n *NATS) Provisioned(t testing.TB, models ...string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, js := n.Connect(t)
	if err := bus.Ensure(context.Background(), js, bus.DefaultSettings(), models...); err != nil {
		t.Fatalf("provision: %v", err)
	}
	return nc, js
}

// ConnectAs connects with the credentials of a role's default identity
// (for runners, one named "runner"); on a server without auth, the role is
// ignored.
func (n *NATS) ConnectAs(t testing.TB, role natsauth.Role, opts ...nats.Option) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	return n.ConnectAsIdentity(t, role, natsauth.DefaultName(role), opts...)
}

// Creds is the credentials file of the identity name of role, issued into
// CredsDir the first time it is asked for.
func (n *NATS) Creds(t testing.TB, role natsauth.Role, name string) string {
	t.Helper()
	path := natsauth.IdentityCredsPath(n.CredsDir, role, name)
	if _, err := os.Stat(path); err == nil {
		return path
	}
	if _, err := n.Auth.SaveCreds(n.CredsDir, role, name, natsauth.DefaultExpiry); err != nil {
		t.Fatalf("credentials of %s %s: %v", role, name, err)
	}
	return path
}

// ConnectAsIdentity connects as the identity name of role, with its
// credentials and its own inbox prefix, as the services' bus.Connect does.
func (n *NATS) ConnectAsIdentity(t testing.TB, role natsauth.Role, name string, opts ...nats.Option) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	opts = append([]nats.Option{nats.MaxReconnects(-1), nats.ReconnectWait(100 * time.Millisecond)}, opts...)
	opts = append(opts, nats.CustomInboxPrefix(bus.InboxPrefix(string(role), name)))
	if n.Auth != nil {
		opts = append(opts, nats.UserCredentials(n.Creds(t, role, name)))
	}
	if n.CAFile != "" {
		opts = append(opts, nats.RootCAs(n.CAFile))
	}
	nc, err := nats.Connect(n.URL(), opts...)
	if err != nil {
		t.Fatalf("connect nats: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	return nc, js
}
