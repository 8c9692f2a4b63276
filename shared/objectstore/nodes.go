package objectstore

import (
	"sync"
	"time"
)

// Suspicion of a node that failed a request: new connections go to other
// nodes for suspectBase, doubled with each failure in a row up to
// suspectMax. A frozen node (a hung host, SIGSTOP) still completes TCP
// handshakes in its kernel, so a dial alone cannot tell it from a live
// one: only a request that failed through it can.
const (
	suspectBase = 5 * time.Second
	suspectMax  = time.Minute
)

// nodes is what the clients of one deployment know about its nodes: which
// one answered last (new connections go there first) and which failed
// lately (tried only when no other is left).
type nodes struct {
	addrs []string
	now   func() time.Time

	mu      sync.Mutex
	last    int         // index in addrs of the node that answered last
	strikes []int       // failures in a row, per node
	until   []time.Time // suspect until, per node
	live    []time.Time // when a health check last found it live (presign)
}

func newNodes(addrs []string) *nodes {
	n := len(addrs)
	return &nodes{addrs: addrs, now: time.Now, strikes: make([]int, n), until: make([]time.Time, n), live: make([]time.Time, n)}
}

// order is the order to try the nodes in: from the one that answered last
// on in the listed order, those not suspect first.
func (n *nodes) order() []int {
	n.mu.Lock()
	defer n.mu.Unlock()
	now := n.now()
	out := make([]int, 0, len(n.addrs))
	var suspect []int
	for k := range n.addrs {
		i := (n.last + k) % len(n.addrs)
		if now.Before(n.until[i]) {
			suspect = append(suspect, i)
			continue
		}
		out = append(out, i)
	}
	return append(out, suspect...)
}

// connected records that node i took a connection.
func (n *nodes) connected(i int) {
	n.mu.Lock()
	n.last = i
	n.mu.Unlock()
}

// answered records that node i answered a request: it is trusted again.
func (n *nodes) answered(i int) {
	n.mu.Lock()
	n.strikes[i], n.until[i] = 0, time.Time{}
	n.mu.Unlock()
}

// failed records that a request or a connection through node i failed: it
// is suspect for a while, and no longer the first node to try.
func (n *nodes) failed(i int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.strikes[i]++
	n.until[i] = n.now().Add(min(suspectMax, suspectBase<<min(n.strikes[i]-1, 8)))
	n.live[i] = time.Time{}
	if n.last == i {
		n.last = (i + 1) % len(n.addrs)
	}
}

// checkedLive tells whether a health check found node i live within d.
func (n *nodes) checkedLive(i int, d time.Duration) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return !n.live[i].IsZero() && n.now().Sub(n.live[i]) < d
}

// foundLive records a passed health check of node i.
func (n *nodes) foundLive(i int) {
	n.mu.Lock()
	n.live[i] = n.now()
	n.mu.Unlock()
}
