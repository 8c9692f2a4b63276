package main

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

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

// What NATS will not end by itself ends provision at once: R3 on a single
// server is refused, not waited on for the whole --provision-timeout.
func TestProvisionFailsAtOnceOnWhatWaitingCannotFix(t *testing.T) {
	n := testenv.StartNATSWithAuth(t)
	var out, errOut bytes.Buffer
	start := time.Now()
	code := run([]string{
		"--nats-url", n.URL(), "--nats-creds", natsauth.CredsPath(n.CredsDir, natsauth.Admin),
		"--models-dir", testenv.RepoRoot(t) + "/infra/models", "--replicas", "3", "--provision-timeout", "1m",
	}, &out, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), "replicas > 1 not supported") {
		t.Fatalf("provision R3 on one server: exit %d: %s%s", code, out.String(), errOut.String())
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Fatalf("took %s: waited on an error waiting cannot fix", took)
	}
	if strings.Contains(out.String(), "waiting for NATS") {
		t.Fatalf("retried an error waiting cannot fix:\n%s", out.String())
	}
}

// A server that never answers: provision says it is waiting, once per
// attempt, and gives up at --provision-timeout.
func TestProvisionWaitsForNATSAndGivesUp(t *testing.T) {
	t.Setenv("CYBERIMAGE_DEV", "true")
	var out, errOut bytes.Buffer
	code := run([]string{
		"--nats-url", "nats://127.0.0.1:" + strconv.Itoa(testenv.FreePort(t)),
		"--models-dir", testenv.RepoRoot(t) + "/infra/models", "--provision-timeout", "3s",
	}, &out, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), "gave up after 3s") {
		t.Fatalf("provision without NATS: exit %d: %s%s", code, out.String(), errOut.String())
	}
	// Backoff from 250 ms: several attempts in 3 s, each said.
	if lines := strings.Count(out.String(), "provision: waiting for NATS (attempt "); lines < 3 {
		t.Fatalf("%d progress lines in 3 s:\n%s", lines, out.String())
	}
}
