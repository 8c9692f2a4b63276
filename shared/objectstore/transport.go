package objectstore

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"
)

// failoverTransport sends requests over base, whose connections reach the
// nodes through a failoverDialer, and keeps nodes informed: a request that
// failed through a node (a reset, a timeout, a hung node given up on)
// makes the node suspect and drops the idle connections, so the next
// request dials a node not suspect instead of reusing a connection to the
// bad one; a request answered clears the node of suspicion.
type failoverTransport struct {
	base  *http.Transport
	nodes *nodes
}

// RoundTrip sends req and records how its node fared.
func (t *failoverTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var node atomic.Int32
	node.Store(-1)
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) { node.Store(int32(nodeOf(info.Conn))) }}
	resp, err := t.base.RoundTrip(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
	i := int(node.Load())
	switch {
	case i < 0:
		// No connection was made: the dialer has judged the nodes.
	case err == nil:
		t.nodes.answered(i)
	case !errors.Is(req.Context().Err(), context.Canceled):
		// The caller giving up on purpose says nothing about the node;
		// a deadline it set (a try's timeout) or a broken connection does.
		t.nodes.failed(i)
		t.base.CloseIdleConnections()
	}
	return resp, err
}

// CloseIdleConnections closes base's idle connections (as http.Client
// asks of its transport).
func (t *failoverTransport) CloseIdleConnections() { t.base.CloseIdleConnections() }

// nodeOf is the node a connection reached, or -1.
func nodeOf(conn net.Conn) int {
	if tc, ok := conn.(*tls.Conn); ok {
		conn = tc.NetConn()
	}
	if nc, ok := conn.(*nodeConn); ok {
		return nc.node
	}
	return -1
}
