package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"cyberimage/shared/natsauth"
	"cyberimage/shared/objectstore"
	"cyberimage/shared/testenv"
	"cyberimage/tools/internal/s3access"
)

// The command provisions NATS and, given a users folder, the MinIO users a
// deployment hands to its services.
func TestProvisionMakesStreamsAndS3Users(t *testing.T) {
	n := testenv.StartNATSWithAuth(t)
	m := testenv.StartMinIO(t)
	dir := t.TempDir()
	t.Setenv("CYBERIMAGE_S3_SECRET_KEY", m.Config.SecretKey)
	var out, errOut bytes.Buffer
	code := run([]string{
		"--nats-url", n.URL(), "--nats-creds", natsauth.CredsPath(n.CredsDir, natsauth.Admin),
		"--models-dir", testenv.RepoRoot(t) + "/infra/models",
		"--s3-endpoint", m.Config.Endpoint, "--s3-bucket", m.Config.Bucket,
		"--s3-access-key", m.Config.AccessKey, "--s3-users-dir", dir,
	}, &out, &errOut)
	if code != 0 {
		t.Fatalf("provision exit %d: %s%s", code, out.String(), errOut.String())
	}
	if strings.Contains(out.String()+errOut.String(), m.Config.SecretKey) {
		t.Fatal("provision printed the root secret")
	}
	users, err := s3access.LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg := m.Config
	cfg.AccessKey, cfg.SecretKey = users[s3access.Runner].AccessKey, users[s3access.Runner].SecretKey
	c, err := objectstore.Connect(context.Background(), cfg)
	if err != nil {
		t.Fatalf("runner user: %v", err)
	}
	if _, err := c.PutObject(context.Background(), cfg.Bucket, "images/j/0.png", bytes.NewReader([]byte("png")), 3, minio.PutObjectOptions{}); err != nil {
		t.Fatalf("runner user put: %v", err)
	}
}
