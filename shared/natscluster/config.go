// Package natscluster writes the configuration of the pipeline's NATS
// JetStream cluster: one file per node, with the routes to its peers, its
// own store, the sync policy and the trust of the security model. The dev
// stack's cluster mode, the cluster tests and the files in infra/nats/cluster
// all come from here, so they cannot drift apart.
package natscluster

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Name is the cluster's name: every node must carry the same.
const Name = "cyberimage"

// Node is one nats-server of the cluster.
type Node struct {
	// Name is the server's name, unique in the cluster; JetStream reports
	// stream leaders by it.
	Name string
	// Host is where peers and clients reach the node; Bind, when set, is
	// the address it listens on instead (0.0.0.0 in a deployment).
	Host string
	Bind string
	// Port serves clients, ClusterPort the routes between nodes, and
	// MonitorPort the HTTP monitor (/healthz, /jsz).
	Port, ClusterPort, MonitorPort int
	StoreDir                       string
}

// ClientURL is where clients reach the node.
func (n Node) ClientURL() string { return "nats://" + n.addr(n.Port) }

func (n Node) addr(port int) string { return n.Host + ":" + strconv.Itoa(port) }

func (n Node) listen(port int) string {
	if n.Bind != "" {
		return n.Bind + ":" + strconv.Itoa(port)
	}
	return n.addr(port)
}

// Sync is the JetStream store's fsync policy. With three replicas an
// acknowledged write is already on two nodes, so losing any one node (even
// to an OS crash) loses nothing; only a crash of every node within the
// interval could. SyncAlways fsyncs every write, for single-node setups that
// must survive OS crashes, at a cost in throughput.
type Sync string

// The sync policies; SyncDefault is nats-server's own (every 2 minutes).
const (
	SyncDefault Sync = ""
	SyncAlways  Sync = "always"
)

// ParseSync reads a CYBERIMAGE_NATS_SYNC value: "", "always", or a duration
// nats-server accepts ("30s", "1m").
func ParseSync(s string) (Sync, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "always" {
		return Sync(s), nil
	}
	// nats-server reads the value with time.ParseDuration too.
	if d, err := time.ParseDuration(s); err != nil || d <= 0 {
		return "", fmt.Errorf("sync %q: want always or a positive duration such as 30s", s)
	}
	return Sync(s), nil
}

// Config is the nats-server configuration of self in a cluster of nodes
// (self included). auth is the trust block (natsauth.Authority
// ServerConfig) or an include line; empty runs without auth.
func Config(self Node, nodes []Node, sync Sync, auth string) string {
	var routes []string
	for _, n := range nodes {
		if n.Name != self.Name {
			routes = append(routes, "    nats-route://"+n.addr(n.ClusterPort))
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# nats-server %s of the %s cluster (written by shared/natscluster)\n", self.Name, Name)
	fmt.Fprintf(&b, "server_name: %s\n", self.Name)
	fmt.Fprintf(&b, "listen: %s\n", self.listen(self.Port))
	fmt.Fprintf(&b, "http: %s\n", self.listen(self.MonitorPort))
	b.WriteString("jetstream {\n")
	fmt.Fprintf(&b, "  store_dir: %q\n", self.StoreDir)
	if sync != SyncDefault {
		fmt.Fprintf(&b, "  sync_interval: %q\n", string(sync))
	}
	b.WriteString("}\n")
	b.WriteString("cluster {\n")
	fmt.Fprintf(&b, "  name: %s\n", Name)
	fmt.Fprintf(&b, "  listen: %s\n", self.listen(self.ClusterPort))
	b.WriteString("  routes: [\n" + strings.Join(routes, "\n") + "\n  ]\n")
	b.WriteString("}\n")
	if auth != "" {
		b.WriteString(auth)
		if !strings.HasSuffix(auth, "\n") {
			b.WriteString("\n")
		}
	}
	return b.String()
}

// ClientURLs is the comma-separated list services take as
// CYBERIMAGE_NATS_URL: a client connects to any and fails over to the rest.
func ClientURLs(nodes []Node) string {
	urls := make([]string, len(nodes))
	for i, n := range nodes {
		urls[i] = n.ClientURL()
	}
	return strings.Join(urls, ",")
}

// Apply sets the policy on an embedded server's options (the single-node
// dev stack), as Config does in a file.
func (s Sync) Apply(opts *server.Options) {
	switch s {
	case SyncDefault:
	case SyncAlways:
		opts.SyncAlways = true
	default:
		d, _ := time.ParseDuration(string(s)) // checked by ParseSync
		opts.SyncInterval = d
	}
}
