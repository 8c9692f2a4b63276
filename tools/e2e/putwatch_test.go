package e2e

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// putWatch is a transparent TCP proxy in front of each node of a MinIO
// deployment, so a test can fault a node at the moment an upload is in
// it: the whole body of an image's PUT has reached the node, which is now
// writing and committing it (holding the object's lock), and has not
// answered yet. Services are given the proxies' addresses instead of the
// nodes'; a node killed or frozen behind its proxy looks to them as it
// would directly (connections closed, or hung).
type putWatch struct {
	nodes   []string
	ls      []net.Listener
	trigger atomic.Pointer[func(node int, key string)]

	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// startPutWatch starts a proxy for each node address; they stop when the
// test ends.
func startPutWatch(t testing.TB, nodes []string) *putWatch {
	t.Helper()
	w := &putWatch{nodes: nodes, conns: map[net.Conn]struct{}{}}
	for i := range nodes {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		w.ls = append(w.ls, l)
		w.wg.Add(1)
		go w.accept(i, l)
	}
	t.Cleanup(w.stop)
	return w
}

// endpoint lists the proxies as CYBERIMAGE_S3_ENDPOINT takes them.
func (w *putWatch) endpoint() string {
	addrs := make([]string, len(w.ls))
	for i, l := range w.ls {
		addrs[i] = l.Addr().String()
	}
	return strings.Join(addrs, ",")
}

// arm calls fault once, on the proxy's goroutine, for the next image PUT
// whose body a node has taken whole: with the node's index and the key.
func (w *putWatch) arm(fault func(node int, key string)) { w.trigger.Store(&fault) }

func (w *putWatch) stop() {
	for _, l := range w.ls {
		l.Close()
	}
	w.mu.Lock()
	for c := range w.conns {
		c.Close()
	}
	w.conns = nil // connections still being set up are refused
	w.mu.Unlock()
	w.wg.Wait()
}

func (w *putWatch) track(c net.Conn) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.conns == nil {
		return false
	}
	w.conns[c] = struct{}{}
	return true
}

func (w *putWatch) accept(node int, l net.Listener) {
	defer w.wg.Done()
	for {
		client, err := l.Accept()
		if err != nil {
			return
		}
		w.wg.Add(1)
		go w.serve(node, client)
	}
}

// serve copies one connection both ways, reading the requests as they
// pass to see each PUT's body go through whole.
func (w *putWatch) serve(node int, client net.Conn) {
	defer w.wg.Done()
	defer client.Close()
	upstream, err := net.Dial("tcp", w.nodes[node])
	if err != nil {
		return // the node is down: the service sees its connection closed
	}
	defer upstream.Close()
	if !w.track(client) || !w.track(upstream) {
		return
	}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		_, _ = io.Copy(client, upstream)
		client.Close()
	}()
	// Every byte read from the client goes to the node before the parser
	// sees it, so a body read whole has been sent whole.
	requests := bufio.NewReader(io.TeeReader(client, upstream))
	for {
		req, err := http.ReadRequest(requests)
		if err != nil {
			return
		}
		if _, err := io.Copy(io.Discard, req.Body); err != nil && !errors.Is(err, io.EOF) {
			return
		}
		if req.Method == http.MethodPut && strings.Contains(req.URL.Path, "/images/") && strings.HasSuffix(req.URL.Path, ".png") {
			if fault := w.trigger.Swap(nil); fault != nil {
				(*fault)(node, req.URL.Path[strings.Index(req.URL.Path, "images/"):])
			}
		}
	}
}
