package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"cyberimage/shared/natsauth"
	"cyberimage/shared/natscluster"
)

// startCluster runs nodes nats-server processes (the pinned binary in the
// tools folder) as one JetStream cluster on loopback: client ports from
// natsPort up, routes from 6222, monitors from 8222, stores and logs under
// <data>/nats-cluster. It returns the URL list services take and a stop.
func startCluster(ctx context.Context, o options, auth *natsauth.Authority, sync natscluster.Sync) (string, func(), error) {
	dir := filepath.Join(o.dataDir, "nats-cluster")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", nil, err
	}
	trust, err := auth.ServerConfig()
	if err != nil {
		return "", nil, err
	}
	var nodes []natscluster.Node
	for i := range o.natsNodes {
		name := "nats-" + strconv.Itoa(i+1)
		nodes = append(nodes, natscluster.Node{Name: name, Host: "127.0.0.1",
			Port: o.natsPort + i, ClusterPort: 6222 + i, MonitorPort: 8222 + i,
			StoreDir: filepath.Join(dir, name)})
	}
	var procs []*process
	var names []string
	for _, n := range nodes {
		conf := filepath.Join(dir, n.Name+".conf")
		// Written each start: the trust block follows the authority.
		if err := os.WriteFile(conf, []byte(natscluster.Config(n, nodes, sync, trust)), 0o600); err != nil {
			return "", nil, err
		}
		procs = append(procs, &process{name: n.Name, path: filepath.Join(o.toolsDir, "bin", "nats-server"),
			args: []string{"-c", conf, "-l", filepath.Join(dir, n.Name+".log")}})
		names = append(names, n.Name)
	}
	group := newGroup(procs, [][]string{names})
	if err := group.start(); err != nil {
		group.stop()
		return "", nil, err
	}
	// A node is ready only once a quorum runs, so all start before any is
	// waited for.
	for _, n := range nodes {
		if err := waitHTTP(ctx, n.MonitorURL()+"/healthz", 60*time.Second); err != nil {
			group.stop()
			return "", nil, fmt.Errorf("%s: %w (log in %s)", n.Name, err, filepath.Join(dir, n.Name+".log"))
		}
	}
	// Healthy is not yet joined: provisioning at R3 before every node is a
	// current peer of the meta leader fails placement. Provision would
	// wait that out too; waiting here says what the cluster is doing.
	formed, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := natscluster.WaitFormed(formed, nodes, func(why string) { say("devstack", "nats cluster forming: %s", why) }); err != nil {
		group.stop()
		return "", nil, fmt.Errorf("%w (logs in %s)", err, dir)
	}
	return natscluster.ClientURLs(nodes), group.stop, nil
}
