package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"cyberimage/shared/natsauth"
	"cyberimage/shared/natscluster"
)

// Cluster is a JetStream cluster of real nats-server processes (the pinned
// binary make tools builds) on loopback, trusting a fresh authority, so a
// test can kill -9 a node, wipe its store and start it again.
type Cluster struct {
	procSet
	bin   string
	Nodes []natscluster.Node
	Auth  *natsauth.Authority
	// CredsDir holds one credentials file per role (natsauth.CredsPath).
	CredsDir string
}

// StartCluster starts n nodes and waits until they form one JetStream
// cluster; every node is killed when the test ends.
//
// Create replicated streams with bus.Provision, as deployments do, not a
// bare bus.Ensure: for a moment after the cluster formed, and after a
// node restarts, the meta leader can still refuse to place one ("no
// suitable peers for placement, peer offline"). It places only on peers
// whose statistics it has heard since their route last connected, which
// neither /healthz nor /jsz shows; on one loaded core a bare Ensure right
// after this wait failed so in 1 of 30 starts.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	return StartClusterPartly(t, n, n)
}

// StartClusterPartly configures n nodes but starts only the first running
// (a quorum of n, or no node ever becomes ready), and waits until those
// form a cluster; Start(i) brings the others in later, as nodes of a cold
// deployment join one by one.
func StartClusterPartly(t testing.TB, n, running int) *Cluster {
	t.Helper()
	auth, err := natsauth.New()
	if err != nil {
		t.Fatalf("nats authority: %v", err)
	}
	c := &Cluster{procSet: newProcSet(t, n), bin: Tool(t, "CYBERIMAGE_NATS_SERVER_BIN", ".tools/bin/nats-server"), Auth: auth}
	c.CredsDir = filepath.Join(c.dir, "creds")
	if err := auth.Save(c.CredsDir); err != nil {
		t.Fatalf("nats credentials: %v", err)
	}
	trust, err := auth.ServerConfig()
	if err != nil {
		t.Fatalf("nats authority: %v", err)
	}
	ports := clusterPorts(t, 3*n)
	for i := range n {
		c.Nodes = append(c.Nodes, natscluster.Node{Name: fmt.Sprintf("n%d", i+1), Host: "127.0.0.1",
			Port: ports[3*i], ClusterPort: ports[3*i+1], MonitorPort: ports[3*i+2],
			StoreDir: filepath.Join(c.dir, fmt.Sprintf("n%d", i+1), "store")})
	}
	for i, node := range c.Nodes {
		conf := natscluster.Config(node, c.Nodes, natscluster.SyncDefault, trust)
		if err := os.WriteFile(c.confPath(i), []byte(conf), 0o600); err != nil {
			t.Fatalf("nats config: %v", err)
		}
	}
	c.killAllAtEnd(c.dumpLogs)
	// All at once: JetStream needs a quorum of the nodes before any is ready.
	for i := range running {
		c.launch(i)
	}
	for i := range running {
		c.waitReady(i)
	}
	c.waitFormed()
	return c
}

func (c *Cluster) confPath(i int) string {
	return filepath.Join(c.dir, c.Nodes[i].Name+".conf")
}

func (c *Cluster) launch(i int) {
	c.t.Helper()
	c.start(i, c.Nodes[i].Name, exec.Command(c.bin, "-c", c.confPath(i)))
}

// waitReady waits until the node's monitor says JetStream is healthy.
func (c *Cluster) waitReady(i int) {
	c.t.Helper()
	c.procSet.waitReady(i, c.Nodes[i].Name, fmt.Sprintf("http://127.0.0.1:%d/healthz", c.Nodes[i].MonitorPort), "not ready")
}

// waitFormed waits until the running nodes form one JetStream cluster:
// each names the same meta leader, which counts every other as a current
// peer (natscluster.WaitFormed). Each new reason it is not yet formed is
// logged, so a failed test shows what the cluster was waiting for.
func (c *Cluster) waitFormed() {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := natscluster.WaitFormed(ctx, c.Running(), func(why string) { c.t.Logf("cluster: %s", why) }); err != nil {
		c.t.Fatalf("%v", err)
	}
}

// URL lists every node, as services take it.
func (c *Cluster) URL() string { return natscluster.ClientURLs(c.Nodes) }

// NATS is the cluster as a test's NATS: its URL lists every node and it
// connects with the cluster's credentials. It has no in-process server to
// stop or restart: use Kill and Start.
func (c *Cluster) NATS() *NATS {
	return &NATS{t: c.t, urls: c.URL(), Auth: c.Auth, CredsDir: c.CredsDir}
}

// Kill kills node i with SIGKILL, as a crashed host would vanish, and waits
// for it to exit; a node already down is left alone.
func (c *Cluster) Kill(i int) { c.kill(i) }

// Wipe deletes node i's JetStream store; the node must be down. Started
// again, it comes back empty and catches up from its peers.
func (c *Cluster) Wipe(i int) {
	c.t.Helper()
	if c.up(i) {
		c.t.Fatalf("wipe %s: still running", c.Nodes[i].Name)
	}
	if err := os.RemoveAll(c.Nodes[i].StoreDir); err != nil {
		c.t.Fatalf("wipe %s: %v", c.Nodes[i].Name, err)
	}
}

// Start starts node i (again: same ports and store) and waits until it is
// ready and back in the JetStream cluster with every node running.
func (c *Cluster) Start(i int) {
	c.t.Helper()
	c.launch(i)
	c.waitReady(i)
	c.waitFormed()
}

// Running are the nodes not killed.
func (c *Cluster) Running() []natscluster.Node {
	var nodes []natscluster.Node
	for i, n := range c.Nodes {
		if c.up(i) {
			nodes = append(nodes, n)
		}
	}
	return nodes
}

// Leader is the index of the node leading a stream ("KV_<bucket>" for a
// bucket), as the stream's cluster info names it.
func (c *Cluster) Leader(ctx context.Context, js jetstream.JetStream, stream string) (int, error) {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return -1, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return -1, err
	}
	if info.Cluster == nil {
		return -1, fmt.Errorf("stream %s: no cluster info", stream)
	}
	for i, n := range c.Nodes {
		if n.Name == info.Cluster.Leader {
			return i, nil
		}
	}
	return -1, fmt.Errorf("stream %s: leader %q is none of the nodes", stream, info.Cluster.Leader)
}

// dumpLogs shows the end of each node's log, for a failed test.
func (c *Cluster) dumpLogs() {
	// A down peer makes every node retry its route each second.
	notRetry := func(line string) bool { return !strings.Contains(line, "Error trying to connect to route") }
	for _, n := range c.Nodes {
		c.t.Logf("--- %s log (last 60 lines but route retries) ---\n%s", n.Name, c.logTail(n.Name, notRetry))
	}
}
