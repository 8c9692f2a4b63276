package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"cyberimage/shared/natscluster"
	"cyberimage/tools/internal/benchstack"
)

// cluster is three nats-server processes forming one JetStream cluster on
// loopback, trusting a fresh authority: processes, not servers inside the
// harness, so one can be frozen with SIGSTOP as a hung host would be.
// (shared/testenv's Cluster does the same for tests, bound to testing.TB.)
// What it adds to benchstack's is finding leaders and counting clients.
type cluster struct {
	*benchstack.Cluster
}

func startCluster(ctx context.Context, ps *benchstack.Procs, bin, dir string, n int) (*cluster, error) {
	c, err := benchstack.StartCluster(ctx, ps, bin, dir, n)
	if c == nil {
		return nil, err
	}
	return &cluster{c}, err
}

// waitFormed waits until every node names the same meta leader, which
// counts the others as current peers: after a freeze, the thawed node is
// back in the cluster.
func (c *cluster) waitFormed(ctx context.Context, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	return natscluster.WaitFormed(ctx, c.Nodes, nil)
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
			for i, n := range c.Nodes {
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
	resp, err := client.Get(c.Nodes[i].MonitorURL() + "/varz")
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
