package testenv

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"cyberimage/shared/objectstore"
)

// MinIO is a real MinIO server process on a free loopback port with its data
// in a temp dir.
type MinIO struct {
	t       testing.TB
	bin     string
	dataDir string
	port    int
	cmd     *exec.Cmd
	exited  chan struct{}
	Config  objectstore.Config
}

// StartMinIO starts MinIO and waits until it serves; it is killed when the
// test ends. The bucket is created.
func StartMinIO(t testing.TB) *MinIO {
	t.Helper()
	m := &MinIO{
		t:       t,
		bin:     Tool(t, "CYBERIMAGE_MINIO_BIN", ".tools/bin/minio"),
		dataDir: t.TempDir(),
		port:    FreePort(t),
	}
	m.Config = objectstore.Config{
		Endpoint:  "127.0.0.1:" + strconv.Itoa(m.port),
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
		m.dataDir)
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+m.Config.AccessKey,
		"MINIO_ROOT_PASSWORD="+m.Config.SecretKey,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
	)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		m.t.Fatalf("start minio: %v", err)
	}
	m.cmd = cmd
	m.exited = make(chan struct{})
	go func() { _ = cmd.Wait(); close(m.exited) }()
	if err := m.waitReady(60 * time.Second); err != nil {
		m.Stop()
		m.t.Fatalf("minio: %v", err)
	}
}

func (m *MinIO) waitReady(limit time.Duration) error {
	url := fmt.Sprintf("http://%s/minio/health/ready", m.Config.Endpoint)
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-m.exited:
			return fmt.Errorf("exited before it was ready")
		default:
		}
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("not ready after %s", limit)
}

// Stop kills the server and waits for it; safe to call twice.
func (m *MinIO) Stop() {
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Kill()
	<-m.exited
	m.cmd = nil
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
