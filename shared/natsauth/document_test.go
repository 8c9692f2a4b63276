package natsauth_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"cyberimage/shared/natsauth"
	"cyberimage/shared/testenv"
)

// TestCommittedPermissionsAreCurrent: infra/nats/permissions.json is what
// the code issues (regenerate with go run ./tools/cmd/nats-creds
// --permissions > infra/nats/permissions.json).
func TestCommittedPermissionsAreCurrent(t *testing.T) {
	path := filepath.Join(testenv.RepoRoot(t), "infra", "nats", "permissions.json")
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, natsauth.PermissionsDocument()) {
		t.Fatalf("%s is stale: regenerate it with go run ./tools/cmd/nats-creds --permissions > infra/nats/permissions.json", path)
	}
}
