package benchstack

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"cyberimage/shared/natsauth"
)

// Embedded is JetStream servers run inside the harness, as the dev stack
// runs one: their CPU is the harness's.
type Embedded struct {
	Servers []*server.Server
}

// EmbeddedOptions says what servers StartEmbedded runs.
type EmbeddedOptions struct {
	// Name names the servers (<Name>-1, ...) and their cluster.
	Name string
	// Nodes clustered in this process (at least one), so R3 costs what it
	// costs on one machine: every write stored three times, and the raft
	// traffic.
	Nodes int
	// Dir holds each server's store, Dir/nats-<i>.
	Dir string
	// Auth, when set, is the authority the servers trust (operator mode):
	// every client needs credentials it issued.
	Auth *natsauth.Authority
	// TLS, when set, is the servers' TLS configuration.
	TLS *tls.Config
	// MaxStore bounds each server's JetStream file store (0: the server's
	// default, a share of the disk).
	MaxStore int64
}

// StartEmbedded runs the servers on free loopback ports and waits until
// they take connections and, clustered, until JetStream has a leader.
func StartEmbedded(o EmbeddedOptions) (*Embedded, error) {
	nodes := max(o.Nodes, 1)
	var routes []*url.URL
	clusterPorts := make([]int, nodes)
	for i := range clusterPorts {
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		clusterPorts[i] = port
		routes = append(routes, &url.URL{Scheme: "nats-route", Host: "127.0.0.1:" + strconv.Itoa(port)})
	}
	e := &Embedded{}
	for i := range nodes {
		opts := &server.Options{
			ServerName:        fmt.Sprintf("%s-%d", o.Name, i+1),
			Host:              "127.0.0.1",
			Port:              server.RANDOM_PORT,
			JetStream:         true,
			JetStreamMaxStore: o.MaxStore,
			StoreDir:          filepath.Join(o.Dir, fmt.Sprintf("nats-%d", i+1)),
			NoLog:             true,
			NoSigs:            true,
		}
		if nodes > 1 {
			opts.Cluster = server.ClusterOpts{Name: o.Name, Host: "127.0.0.1", Port: clusterPorts[i]}
			opts.Routes = routes
		}
		if o.Auth != nil {
			if err := o.Auth.Configure(opts); err != nil {
				e.Close()
				return nil, err
			}
		}
		if o.TLS != nil {
			opts.TLS, opts.TLSConfig = true, o.TLS
		}
		ns, err := server.NewServer(opts)
		if err != nil {
			e.Close()
			return nil, fmt.Errorf("nats: %w", err)
		}
		go ns.Start()
		e.Servers = append(e.Servers, ns)
	}
	for _, ns := range e.Servers {
		if !ns.ReadyForConnections(30 * time.Second) {
			e.Close()
			return nil, errors.New("nats: not ready after 30s")
		}
	}
	if nodes > 1 {
		if err := e.waitLeader(30 * time.Second); err != nil {
			e.Close()
			return nil, err
		}
	}
	return e, nil
}

// waitLeader waits until the cluster has a meta leader, before which no
// stream can be made.
func (e *Embedded) waitLeader(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		for _, ns := range e.Servers {
			if ns.JetStreamIsLeader() {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New("nats: no JetStream meta leader after " + limit.String())
}

// URL lists every server, as services take it.
func (e *Embedded) URL() string {
	urls := make([]string, len(e.Servers))
	for i, ns := range e.Servers {
		urls[i] = ns.ClientURL()
	}
	return strings.Join(urls, ",")
}

// Close shuts every server down and waits for it.
func (e *Embedded) Close() {
	for _, ns := range e.Servers {
		ns.Shutdown()
		ns.WaitForShutdown()
	}
}
