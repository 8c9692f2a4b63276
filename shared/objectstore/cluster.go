package objectstore

import (
	"strings"
)

// ClusterNode is one node of a distributed MinIO deployment whose nodes
// all run on one host, as the dev and test stacks run it: its own S3 and
// console addresses and its one drive (an absolute folder).
type ClusterNode struct {
	Addr        string
	ConsoleAddr string
	Drive       string
}

// ClusterArgs is the `minio server` command line of nodes[i]: its own
// addresses, then every node's drive in the same order on every node (the
// order fixes the erasure layout; it must never change for a deployment).
func ClusterArgs(nodes []ClusterNode, i int) []string {
	args := []string{"server", "--quiet", "--address", nodes[i].Addr, "--console-address", nodes[i].ConsoleAddr}
	for _, n := range nodes {
		args = append(args, "http://"+n.Addr+n.Drive)
	}
	return args
}

// ClusterEnv is what nodes[i] needs in its environment besides its root
// key to run on a host shared with the others:
//   - its drive is a folder on the root filesystem, which a distributed
//     MinIO refuses as "part of root drive" unless told that only drives of
//     at most 1 byte are the root's;
//   - inside a container (a /.dockerenv) MinIO will not believe that a
//     loopback endpoint is its own and waits forever for it "to resolve to
//     a valid IP": _MINIO_SERVER_LOCAL names its own endpoint (outside a
//     container MinIO ignores it).
func ClusterEnv(nodes []ClusterNode, i int) []string {
	return []string{"MINIO_ROOTDRIVE_THRESHOLD_SIZE=1", "_MINIO_SERVER_LOCAL=" + nodes[i].Addr}
}

// ClusterEndpoint lists the nodes' addresses as Config.Endpoint takes them.
func ClusterEndpoint(nodes []ClusterNode) string {
	addrs := make([]string, len(nodes))
	for i, n := range nodes {
		addrs[i] = n.Addr
	}
	return strings.Join(addrs, ",")
}
