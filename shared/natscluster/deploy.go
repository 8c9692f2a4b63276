package natscluster

import "strconv"

// DeploymentNodes are the three nodes of the files in infra/nats/cluster:
// hosts nats-1..3 (DNS names, as in Kubernetes or /etc/hosts), the standard
// ports, the store under /var/lib/nats.
func DeploymentNodes() []Node {
	var nodes []Node
	for i := 1; i <= 3; i++ {
		name := "nats-" + strconv.Itoa(i)
		nodes = append(nodes, Node{Name: name, Host: name, Bind: "0.0.0.0", Port: 4222, ClusterPort: 6222, MonitorPort: 8222, StoreDir: "/var/lib/nats"})
	}
	return nodes
}

// DeploymentFiles are the committed node configurations, by file name. Each
// includes server-auth.conf, which `nats-creds --out DIR` writes next to the
// credentials (the operator, system account and account JWTs).
func DeploymentFiles() map[string][]byte {
	nodes := DeploymentNodes()
	files := map[string][]byte{}
	for _, n := range nodes {
		files[n.Name+".conf"] = []byte(Config(n, nodes, SyncDefault, `include "server-auth.conf"`))
	}
	return files
}
