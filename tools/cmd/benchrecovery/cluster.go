package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"cyberimage/shared/natscluster"
	"cyberimage/tools/internal/benchstack"
)

// cluster is three nats-server processes forming one JetStream cluster on
// loopback, trusting a fresh authority: processes, not servers inside the
// harness, so one can be frozen with SIGSTOP as a hung host would be.
// (shared/testenv's Cluster does the same for tests, bound to testing.TB.)
type cluster struct {
	nodes []natscluster.Node
	procs []*benchstack.Proc
	// creds holds <role>.creds for every role and one file per runner.
	creds *benchstack.Creds
}

func startCluster(ctx context.Context, ps *benchstack.Procs, bin, dir string, n int) (*cluster, error) {
	creds, err := benchstack.NewCreds(filepath.Join(dir, "creds"))
	if err != nil {
		return nil, err
	}
	c := &cluster{creds: creds}
	trust, err := creds.Auth.ServerConfig()
	if err != nil {
		return nil, err
	}
	for i := range n {
		var ports [3]int
		for j := range ports {
			if ports[j], err = benchstack.FreePort(); err != nil {
				return nil, err
			}
		}
		c.nodes = append(c.nodes, natscluster.Node{Name: fmt.Sprintf("n%d", i+1), Host: "127.0.0.1",
			Port: ports[0], ClusterPort: ports[1], MonitorPort: ports[2], StoreDir: filepath.Join(dir, fmt.Sprintf("n%d", i+1))})
	}
	// All at once: JetStream needs a quorum before any node is ready.
	for _, node := range c.nodes {
		conf := filepath.Join(dir, node.Name+".conf")
		if err := os.WriteFile(conf, []byte(natscluster.Config(node, c.nodes, natscluster.SyncDefault, trust)), 0o600); err != nil {
			return nil, err
		}
		p, err := ps.Start("nats-"+node.Name, bin, []string{"-c", conf}, nil)
		if err != nil {
			return nil, err
		}
		c.procs = append(c.procs, p)
	}
	for i, node := range c.nodes {
		if err := benchstack.WaitHTTP(ctx, c.procs[i], node.MonitorURL()+"/healthz", 60*time.Second); err != nil {
			return nil, err
		}
	}
	return c, c.waitFormed(ctx, 60*time.Second)
}

// url lists every node, as services take it.
func (c *cluster) url() string { return natscluster.ClientURLs(c.nodes) }

// waitFormed waits until every node names the same meta leader, which
// counts the others as current peers: after a freeze, the thawed node is
// back in the cluster.
func (c *cluster) waitFormed(ctx context.Context, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	return natscluster.WaitFormed(ctx, c.nodes, nil)
}

// leaderOf is the index of the node leading a stream ("KV_<bucket>" for a
// bucket). Each attempt has its own timeout: a request to a node that just
// hung gets no answer.
func (c *cluster) leaderOf(ctx context.Context, js jetstream.JetStream, stream string) (int, error) {
	var last error
	for attempt := 0; attempt < 15; attempt++ {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		info, err := streamInfo(actx, js, stream)
		cancel()
		if err == nil && info.Cluster != nil {
			for i, n := range c.nodes {
				if n.Name == info.Cluster.Leader {
					return i, nil
				}
			}
			err = fmt.Errorf("leader %q is none of the nodes", info.Cluster.Leader)
		}
		last = err
		if ctx.Err() != nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	return -1, fmt.Errorf("leader of %s: %w", stream, last)
}

func streamInfo(ctx context.Context, js jetstream.JetStream, name string) (*jetstream.StreamInfo, error) {
	s, err := js.Stream(ctx, name)
	if err != nil {
		return nil, err
	}
	return s.Info(ctx)
}

// clientConnections is how many clients node i serves (its /varz), to say
// how many processes a freeze of it strands; -1 if it does not answer.
func (c *cluster) clientConnections(i int) int {
	client := &http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get(c.nodes[i].MonitorURL() + "/varz")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var v struct {
		Connections int `json:"connections"`
	}
	if json.NewDecoder(resp.Body).Decode(&v) != nil {
		return -1
	}
	return v.Connections
}
