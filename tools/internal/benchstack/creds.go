package benchstack

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"cyberimage/shared/bus"
	"cyberimage/shared/natsauth"
)

// Creds is a fresh authority and the folder of the credentials it issues:
// <role>.creds for each role's default identity (admin's for the harness's
// provisioning only: it reads through Observe, with the supervisor's
// rights; client's for its requests), and one file per named identity
// (each runner), issued when first asked for.
type Creds struct {
	Auth *natsauth.Authority
	Dir  string
}

// NewCreds makes an authority and issues every role's default identity
// into dir.
func NewCreds(dir string) (*Creds, error) {
	a, err := natsauth.New()
	if err != nil {
		return nil, err
	}
	if err := a.Save(dir); err != nil {
		return nil, err
	}
	return &Creds{Auth: a, Dir: dir}, nil
}

// Path is the credentials file of role's default identity.
func (c *Creds) Path(role natsauth.Role) string { return natsauth.CredsPath(c.Dir, role) }

// Identity is the credentials file of one named identity of a role,
// issued if it is not there yet (a runner started again keeps its file).
func (c *Creds) Identity(role natsauth.Role, name string) (string, error) {
	path, _, err := c.Auth.EnsureCreds(c.Dir, role, name, natsauth.DefaultExpiry)
	if err != nil {
		return "", fmt.Errorf("credentials of %s %s: %w", role, name, err)
	}
	return path, nil
}

// Env is what a process of that identity gets to connect as it. A nil
// Creds (a server without auth) gives nothing.
func (c *Creds) Env(role natsauth.Role, name string) ([]string, error) {
	if c == nil {
		return nil, nil
	}
	path, err := c.Identity(role, name)
	if err != nil {
		return nil, err
	}
	return []string{"CYBERIMAGE_NATS_CREDS=" + path}, nil
}

// Connect connects to url as role's default identity, under the
// connection name name: the harness reads and submits with a role's
// rights (admin's only through Provision, to make the layout).
func (c *Creds) Connect(url string, role natsauth.Role, name string) (*nats.Conn, jetstream.JetStream, error) {
	return bus.Connect(bus.Conn{URL: url, CredsFile: c.Path(role)}, name, nil)
}

// Provision makes the layout for models with settings as admin (connected
// as name), as a deployment's provision step does once, and closes admin's
// connection: the services and the harness then only use their own rights.
func (c *Creds) Provision(ctx context.Context, url, name string, settings bus.Settings, models ...string) error {
	nc, js, err := c.Connect(url, natsauth.Admin, name)
	if err != nil {
		return err
	}
	defer nc.Close()
	if err := bus.Provision(ctx, js, settings, models...); err != nil {
		return fmt.Errorf("provision: %w", err)
	}
	return nil
}
