package benchstack

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"cyberimage/shared/natscluster"
)

// Cluster is nats-server processes forming one JetStream cluster on
// loopback and trusting a fresh authority: processes, not servers inside
// the harness, so each node's CPU and memory can be read from /proc and a
// node can be frozen as a hung host would be.
type Cluster struct {
	Nodes []natscluster.Node
	Procs []*Proc
	// Creds holds <role>.creds for every role and issues one file per
	// named identity (each runner).
	Creds *Creds
}

// StartCluster starts n nodes (named nats-n1, nats-n2, ... in ps) with
// their stores and configurations in dir and waits until every node is
// healthy and names the same meta leader.
func StartCluster(ctx context.Context, ps *Procs, bin, dir string, n int) (*Cluster, error) {
	creds, err := NewCreds(filepath.Join(dir, "creds"))
	if err != nil {
		return nil, err
	}
	trust, err := creds.Auth.ServerConfig()
	if err != nil {
		return nil, err
	}
	c := &Cluster{Creds: creds}
	for i := range n {
		node := natscluster.Node{Name: fmt.Sprintf("n%d", i+1), Host: "127.0.0.1", StoreDir: filepath.Join(dir, fmt.Sprintf("n%d", i+1))}
		for _, port := range []*int{&node.Port, &node.ClusterPort, &node.MonitorPort} {
			if *port, err = FreePort(); err != nil {
				return nil, err
			}
		}
		c.Nodes = append(c.Nodes, node)
	}
	// Every node at once: JetStream needs a quorum before any is ready.
	for _, node := range c.Nodes {
		conf := filepath.Join(dir, node.Name+".conf")
		if err := os.WriteFile(conf, []byte(natscluster.Config(node, c.Nodes, natscluster.SyncDefault, trust)), 0o600); err != nil {
			return nil, err
		}
		p, err := ps.Start("nats-"+node.Name, bin, []string{"-c", conf}, nil)
		if err != nil {
			return nil, err
		}
		c.Procs = append(c.Procs, p)
	}
	for i, node := range c.Nodes {
		if err := WaitHTTP(ctx, c.Procs[i], node.MonitorURL()+"/healthz", 60*time.Second); err != nil {
			return nil, err
		}
	}
	fctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	return c, natscluster.WaitFormed(fctx, c.Nodes, nil)
}

// URL lists every node, as services take it.
func (c *Cluster) URL() string { return natscluster.ClientURLs(c.Nodes) }
