package s3access_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"cyberimage/shared/objectstore"
	"cyberimage/shared/testenv"
	"cyberimage/tools/internal/s3access"
)

// Each role's user can do its real traffic and nothing the table denies;
// MinIO itself enforces it.
func TestRolesHaveLeastPrivilege(t *testing.T) {
	m := testenv.StartMinIO(t)
	dir := t.TempDir()
	users, err := s3access.LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s3access.Provision(ctx, m.Config, users); err != nil {
		t.Fatalf("provision: %v", err)
	}
	// Provisioning twice changes nothing and fails nothing.
	if err := s3access.Provision(ctx, m.Config, users); err != nil {
		t.Fatalf("second provision: %v", err)
	}
	root := m.Client(t)
	put(ctx, t, root, m.Config.Bucket, "images/job-1/0.png", nil)
	put(ctx, t, root, m.Config.Bucket, "private/notes.txt", nil)

	as := func(r s3access.Role) *minio.Client {
		cfg := m.Config
		cfg.AccessKey, cfg.SecretKey = users[r].AccessKey, users[r].SecretKey
		c, err := objectstore.NewClient(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	bucket := m.Config.Bucket
	type check struct {
		what    string
		do      func(*minio.Client) error
		allowed map[s3access.Role]bool
	}
	checks := []check{
		{"put images/", func(c *minio.Client) error { return putErr(ctx, c, bucket, "images/job-2/0.png") },
			map[s3access.Role]bool{s3access.Runner: true}},
		{"get images/", func(c *minio.Client) error { return getErr(ctx, c, bucket, "images/job-1/0.png") },
			map[s3access.Role]bool{s3access.Runner: true, s3access.Supervisor: true, s3access.Browser: true}},
		{"probe (a missing image answers not-found)", func(c *minio.Client) error { return objectstore.Probe(ctx, c, bucket) },
			map[s3access.Role]bool{s3access.Runner: true, s3access.Supervisor: true, s3access.Browser: true}},
		{"bucket exists", func(c *minio.Client) error { _, err := c.BucketExists(ctx, bucket); return err },
			map[s3access.Role]bool{s3access.Browser: true}},
		{"list images", func(c *minio.Client) error {
			for o := range c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: "images/", Recursive: true}) {
				if o.Err != nil {
					return o.Err
				}
			}
			return nil
		}, map[s3access.Role]bool{s3access.Browser: true}},
		{"put a job's record", func(c *minio.Client) error { return putErr(ctx, c, bucket, "images/job-1/job.json") },
			map[s3access.Role]bool{s3access.Runner: true, s3access.Supervisor: true}},
		{"put an archive segment", func(c *minio.Client) error { return putErr(ctx, c, bucket, "archive/segments/1-2.ndjson.gz") },
			map[s3access.Role]bool{s3access.Supervisor: true}},
		{"get an archive segment", func(c *minio.Client) error { return getErr(ctx, c, bucket, "archive/segments/1-2.ndjson.gz") },
			map[s3access.Role]bool{s3access.Supervisor: true, s3access.Browser: true}},
		{"put outside images/", func(c *minio.Client) error { return putErr(ctx, c, bucket, "private/x.txt") }, nil},
		{"get outside images/", func(c *minio.Client) error { return getErr(ctx, c, bucket, "private/notes.txt") }, nil},
		{"delete an image", func(c *minio.Client) error {
			return c.RemoveObject(ctx, bucket, "images/job-1/0.png", minio.RemoveObjectOptions{})
		}, nil},
		{"make a bucket", func(c *minio.Client) error { return c.MakeBucket(ctx, "other-bucket", minio.MakeBucketOptions{}) }, nil},
		{"delete the bucket policy", func(c *minio.Client) error { return c.SetBucketPolicy(ctx, bucket, "") }, nil},
	}
	for _, r := range s3access.Roles {
		c := as(r)
		for _, ch := range checks {
			err := ch.do(c)
			switch {
			case ch.allowed[r] && err != nil:
				t.Errorf("%s: %s: want allowed, got %v", r, ch.what, err)
			case !ch.allowed[r] && err == nil:
				t.Errorf("%s: %s: want denied, was allowed", r, ch.what)
			case !ch.allowed[r] && objectstore.ErrorCode(err) != "AccessDenied":
				t.Errorf("%s: %s: want AccessDenied, got %v", r, ch.what, err)
			}
		}
	}

	// A least-privileged key never creates a bucket; it says what to check.
	cfg := m.Config
	cfg.Bucket = "not-provisioned"
	cfg.AccessKey, cfg.SecretKey = users[s3access.Runner].AccessKey, users[s3access.Runner].SecretKey
	if _, err := objectstore.Connect(ctx, cfg); err == nil || !strings.Contains(err.Error(), "provisioning made the user") {
		t.Fatalf("runner connect to a missing bucket: want a provisioning hint, got %v", err)
	}
}

// Keys survive restarts (the same file is read back) and rotate when the
// file is deleted; the file is private.
func TestKeysAreKeptAndRotate(t *testing.T) {
	dir := t.TempDir()
	first, err := s3access.LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	again, err := s3access.LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if first[s3access.Runner] != again[s3access.Runner] {
		t.Fatalf("keys changed between loads: %v then %v", first[s3access.Runner].AccessKey, again[s3access.Runner].AccessKey)
	}
	path := s3access.EnvFile(dir, s3access.Runner)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("%s has mode %v, want 0600", filepath.Base(path), st.Mode().Perm())
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	rotated, err := s3access.LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if rotated[s3access.Runner].SecretKey == first[s3access.Runner].SecretKey {
		t.Fatal("deleting the file did not rotate the secret")
	}
	if rotated[s3access.Supervisor] != first[s3access.Supervisor] {
		t.Fatal("rotating the runner changed the supervisor's keys")
	}
}

func put(ctx context.Context, t *testing.T, c *minio.Client, bucket, key string, body []byte) {
	t.Helper()
	if _, err := c.PutObject(ctx, bucket, key, bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

func putErr(ctx context.Context, c *minio.Client, bucket, key string) error {
	_, err := c.PutObject(ctx, bucket, key, bytes.NewReader([]byte("x")), 1, minio.PutObjectOptions{})
	return err
}

func getErr(ctx context.Context, c *minio.Client, bucket, key string) error {
	_, err := c.StatObject(ctx, bucket, key, minio.StatObjectOptions{})
	return err
}
