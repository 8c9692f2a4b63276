package benchstack

import (
	"fmt"

	"cyberimage/shared/natsauth"
)

// Creds is a fresh authority and the folder of the credentials it issues:
// <role>.creds for each role's default identity (admin's for the harness's
// provisioning and reading, client's for its requests), and one file per
// named identity (each runner), issued when first asked for.
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
