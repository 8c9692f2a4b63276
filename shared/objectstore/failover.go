package objectstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
)

// failoverDialTimeout bounds one connection attempt to one node: a host
// that is gone without refusing (power loss, a partition) costs this long
// before the next node is tried, not the transport's 30 s.
const failoverDialTimeout = 2 * time.Second

// Endpoints are the host:port addresses in Endpoint: one, or a
// comma-separated list of the nodes of one distributed MinIO deployment.
func (c Config) Endpoints() []string {
	var out []string
	for e := range strings.SplitSeq(c.Endpoint, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// Host is the endpoint every request is addressed and signed to: the
// first one listed. With several, requests reach whichever node answers,
// still signed for this host; any node of the deployment accepts that,
// since a signature covers the Host header and not the node it lands on.
// Presigned URLs name a live node instead (PresignedGet): whoever opens
// them connects to the host they name.
func (c Config) Host() string {
	if eps := c.Endpoints(); len(eps) > 0 {
		return eps[0]
	}
	return c.Endpoint
}

// Transport is the HTTP transport for a client of c (minio-go's or
// madmin's): nil, meaning the library's own, for a single endpoint; with
// several, minio-go's default transport whose connections go to the
// first node that answers (failoverDialer), wrapped so that a request
// failing through a node makes that node suspect (failoverTransport).
func Transport(c Config) (http.RoundTripper, error) {
	tr, err := transport(c)
	if tr == nil {
		return nil, err
	}
	return tr, err
}

// transport is Transport as the failoverTransport it is (nil for a single
// endpoint), whose nodes the deployment's presigning shares.
func transport(c Config) (*failoverTransport, error) {
	eps := c.Endpoints()
	if len(eps) < 2 {
		return nil, nil
	}
	tr, err := minio.DefaultTransport(c.Secure)
	if err != nil {
		return nil, fmt.Errorf("s3 transport: %w", err)
	}
	n := newNodes(eps)
	d := &failoverDialer{nodes: n, dial: (&net.Dialer{Timeout: failoverDialTimeout, KeepAlive: 30 * time.Second}).DialContext}
	tr.DialContext = d.DialContext
	// Each node is dialed directly: a proxy would be handed the address
	// of whichever node this dialer picked, not the one requests name.
	tr.Proxy = nil
	return &failoverTransport{base: tr, nodes: n}, nil
}

// failoverDialer connects to the nodes of one deployment whatever address
// the transport asks for (always Host): first to the node that answered
// last, then to the others in the order listed after it, suspect ones
// last (nodes.order). Connections in the pool stay with the node they
// reached; one broken by a node's death fails its request, which the
// client retries on a new connection, and that one finds a live node.
type failoverDialer struct {
	nodes *nodes
	dial  func(ctx context.Context, network, addr string) (net.Conn, error)
}

// DialContext connects to the first node that answers, or returns every
// node's error.
func (d *failoverDialer) DialContext(ctx context.Context, network, _ string) (net.Conn, error) {
	var errs []error
	for _, i := range d.nodes.order() {
		conn, err := d.dial(ctx, network, d.nodes.addrs[i])
		if err == nil {
			d.nodes.connected(i)
			return &nodeConn{Conn: conn, node: i}, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
		d.nodes.failed(i)
	}
	return nil, fmt.Errorf("no s3 node answered: %w", errors.Join(errs...))
}

// nodeConn is a connection to one node, so that the transport can tell
// which node a failed request went to.
type nodeConn struct {
	net.Conn
	node int
}
