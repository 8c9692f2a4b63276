package testenv

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"cyberimage/shared/objectstore"
)

// MinIO is a real MinIO server process on a free loopback port with its data
// in a temp dir.
type MinIO struct {
	t   testing.TB
	bin string
	// proc is the server's one process; nil for a view of a cluster
	// (MinIOCluster.MinIO), which has none of its own.
	proc   *procSet
	Config objectstore.Config
}

// StartMinIO starts MinIO and waits until it serves; it is killed when the
// test ends. The bucket is created.
func StartMinIO(t testing.TB) *MinIO {
	t.Helper()
	proc := newProcSet(t, 1)
	m := &MinIO{t: t, bin: Tool(t, "CYBERIMAGE_MINIO_BIN", ".tools/bin/minio"), proc: &proc}
	m.Config = objectstore.Config{
		Endpoint:  "127.0.0.1:" + strconv.Itoa(FreePort(t)),
		AccessKey: objectstore.DevAccessKey,
		SecretKey: objectstore.DevSecretKey,
		Bucket:    "cyberimage-test",
	}
	m.Start()
	t.Cleanup(m.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := objectstore.Connect(ctx, m.Config); err != nil {
		t.Fatalf("minio bucket: %v", err)
	}
	return m
}

// Start (re)starts the server process on the same port and data.
func (m *MinIO) Start() {
	m.t.Helper()
	cmd := exec.Command(m.bin, "server", "--quiet",
		"--address", m.Config.Endpoint,
		"--console-address", "127.0.0.1:"+strconv.Itoa(FreePort(m.t)),
		filepath.Join(m.proc.dir, "data"))
	cmd.Env = minioEnv(m.Config)
	m.proc.start(0, "minio", cmd)
	m.proc.waitReady(0, "minio", "http://"+m.Config.Endpoint+"/minio/health/ready", "not ready")
}

// minioEnv is the environment of a test's MinIO server: cfg's root user,
// and neither the browser console nor update checks.
func minioEnv(cfg objectstore.Config) []string {
	return append(os.Environ(), "MINIO_ROOT_USER="+cfg.AccessKey, "MINIO_ROOT_PASSWORD="+cfg.SecretKey,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off")
}

// Stop kills the server and waits for it; safe to call twice.
func (m *MinIO) Stop() {
	if m.proc != nil {
		m.proc.kill(0)
	}
}

// Client returns a client of the server.
func (m *MinIO) Client(t testing.TB) *minio.Client {
	t.Helper()
	c, err := objectstore.Connect(context.Background(), m.Config)
	if err != nil {
		t.Fatalf("minio client: %v", err)
	}
	return c
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
