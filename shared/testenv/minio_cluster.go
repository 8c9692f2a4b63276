package testenv

import (
	"context"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"cyberimage/shared/objectstore"
)

// MinIOCluster is one distributed MinIO deployment of real server
// processes (the pinned binary) on loopback, one drive each, so a test can
// kill -9 a node and start it again. With 4 nodes MinIO stripes every
// object over 2 data and 2 parity shards (EC:2): reads need 2 nodes,
// writes 3, so one node may be down.
type MinIOCluster struct {
	procSet
	bin   string
	nodes []objectstore.ClusterNode
	// Config lists every node, as services take it, with the root key.
	Config objectstore.Config
}

// StartMinIOCluster starts n nodes (4 at least: MinIO's smallest
// distributed erasure set) and waits until the deployment takes writes;
// the bucket is created. Every node is killed when the test ends.
func StartMinIOCluster(t testing.TB, n int) *MinIOCluster {
	t.Helper()
	c := &MinIOCluster{procSet: newProcSet(t, n), bin: Tool(t, "CYBERIMAGE_MINIO_BIN", ".tools/bin/minio")}
	// Ports below the ephemeral range (clusterPorts): a killed node's
	// port must still be free when it starts again.
	ports := clusterPorts(t, 2*n)
	for i := range n {
		c.nodes = append(c.nodes, objectstore.ClusterNode{Addr: "127.0.0.1:" + strconv.Itoa(ports[2*i]),
			ConsoleAddr: "127.0.0.1:" + strconv.Itoa(ports[2*i+1]), Drive: filepath.Join(c.dir, c.name(i))})
	}
	c.Config = objectstore.Config{
		Endpoint:  objectstore.ClusterEndpoint(c.nodes),
		AccessKey: objectstore.DevAccessKey,
		SecretKey: objectstore.DevSecretKey,
		Bucket:    "cyberimage-test",
	}
	c.killAllAtEnd(c.dumpLogs)
	// All at once: no node serves before a write quorum of them runs.
	for i := range n {
		c.launch(i)
	}
	for i := range n {
		c.WaitWritable(i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := objectstore.Connect(ctx, c.Config); err != nil {
		t.Fatalf("minio bucket: %v", err)
	}
	return c
}

// Addr is node i's host:port.
func (c *MinIOCluster) Addr(i int) string { return c.nodes[i].Addr }

func (c *MinIOCluster) name(i int) string { return "minio-" + strconv.Itoa(i+1) }

func (c *MinIOCluster) launch(i int) {
	c.t.Helper()
	cmd := exec.Command(c.bin, objectstore.ClusterArgs(c.nodes, i)...)
	cmd.Env = append(minioEnv(c.Config), objectstore.ClusterEnv(c.nodes, i)...)
	c.start(i, c.name(i), cmd)
}

// WaitWritable waits until node i says the deployment has write quorum
// (/minio/health/cluster answers 200 only then): after a Thaw, say, or
// before writing through a node that has just come back.
func (c *MinIOCluster) WaitWritable(i int) {
	c.t.Helper()
	c.waitReady(i, c.name(i), "http://"+c.Addr(i)+"/minio/health/cluster", "has no write quorum")
}

// Kill kills node i with SIGKILL, as a crashed host would vanish, and
// waits for it to exit; a node already down is left alone.
func (c *MinIOCluster) Kill(i int) { c.kill(i) }

// Freeze stops node i with SIGSTOP, as a hung host would stop answering
// without closing a connection; Thaw resumes it.
func (c *MinIOCluster) Freeze(i int) { c.signal(i, syscall.SIGSTOP) }

// Thaw resumes node i after Freeze.
func (c *MinIOCluster) Thaw(i int) { c.signal(i, syscall.SIGCONT) }

// Start starts node i again (same port and drive) and waits until it
// serves as part of a deployment that takes writes.
func (c *MinIOCluster) Start(i int) {
	c.t.Helper()
	c.launch(i)
	c.WaitWritable(i)
}

// MinIO is the deployment as a test's MinIO: its Config lists every node.
// It has no process of its own to stop or restart: use Kill and Start.
func (c *MinIOCluster) MinIO() *MinIO {
	return &MinIO{t: c.t, Config: c.Config}
}

// Client returns a root client of the deployment, reaching whichever node
// answers.
func (c *MinIOCluster) Client(t testing.TB) *minio.Client {
	t.Helper()
	client, err := objectstore.NewClient(c.Config)
	if err != nil {
		t.Fatalf("minio client: %v", err)
	}
	return client
}

// dumpLogs shows the end of each node's log, for a failed test.
func (c *MinIOCluster) dumpLogs() {
	for i := range c.procs {
		c.t.Logf("--- %s log (last 60 lines) ---\n%s", c.name(i), c.logTail(c.name(i), everyLine))
	}
}
