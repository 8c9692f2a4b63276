package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"cyberimage/shared/natsauth"
)

// authority returns the dev stack's NATS authority, made on the first run
// and kept with one credentials file per role in <data>/creds (the
// operator's and accounts' seeds are secrets: mode 0600).
func authority(dataDir string) (*natsauth.Authority, string, error) {
	dir := filepath.Join(dataDir, "creds")
	a, ok, err := natsauth.Load(dir)
	if err != nil {
		return nil, dir, err
	}
	if !ok {
		if a, err = natsauth.New(); err != nil {
			return nil, dir, err
		}
		if err := a.Save(dir); err != nil {
			return nil, dir, err
		}
	}
	// Each file is kept across restarts (a client's copy keeps working)
	// and issued anew only when missing, about to expire, or granting
	// other rights than the code's allow list now says.
	for _, r := range natsauth.ServiceRoles() {
		if _, renewed, err := a.EnsureCreds(dir, r, natsauth.DefaultName(r), natsauth.DefaultExpiry); err != nil {
			return nil, dir, err
		} else if renewed {
			say("devstack", "issued %s credentials (%s)", r, natsauth.CredsPath(dir, r))
		}
	}
	return a, dir, nil
}

// runnerCreds keeps the credentials of one runner, which name it.
func runnerCreds(a *natsauth.Authority, dir, id string) (string, error) {
	path, _, err := a.EnsureCreds(dir, natsauth.Runner, id, natsauth.DefaultExpiry)
	return path, err
}

// adminToken returns the dev stack's admin token, made on the first run
// and kept in <data>/creds/admin-token (mode 0600), where the cyberimage
// CLI finds it: retry and cancel need it.
func adminToken(dataDir string) (token, path string, err error) {
	path = filepath.Join(dataDir, "creds", "admin-token")
	data, err := os.ReadFile(path)
	switch {
	case err == nil && strings.TrimSpace(string(data)) != "":
		return strings.TrimSpace(string(data)), path, nil
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return "", path, err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", path, err
	}
	token = hex.EncodeToString(raw)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", path, err
	}
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		return "", path, fmt.Errorf("write %s: %w", path, err)
	}
	return token, path, nil
}
