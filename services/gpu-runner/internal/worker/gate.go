package worker

import "sync"

// Why the slots may be held: each is held and released on its own, and
// the slots pull only while none holds them.
const (
	// holdQuarantine: the runner was ordered to reload its models after
	// repeated stalls and takes no new work until the reload succeeded.
	holdQuarantine = "quarantine"
	// holdDrain: an operator drained the runner (maintenance): it takes no
	// new work, finishes what it holds and stays up until undrained.
	holdDrain = "drain"
)

// gate lets slots pull new work or holds them, for as long as any reason
// to hold them stands. Jobs already running are not affected.
type gate struct {
	mu    sync.Mutex
	holds map[string]bool
	open  chan struct{} // closed while the gate is open
}

func newGate() *gate {
	g := &gate{open: make(chan struct{}), holds: map[string]bool{}}
	close(g.open)
	return g
}

// hold holds the slots for reason; it reports whether reason was new.
func (g *gate) hold(reason string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.holds[reason] {
		return false
	}
	g.holds[reason] = true
	select {
	case <-g.open:
		g.open = make(chan struct{})
	default:
	}
	return true
}

// release drops reason; the gate opens once no reason is left. It reports
// whether reason was held.
func (g *gate) release(reason string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.holds[reason] {
		return false
	}
	delete(g.holds, reason)
	if len(g.holds) == 0 {
		close(g.open)
	}
	return true
}

func (g *gate) held() bool {
	select {
	case <-g.opened():
		return false
	default:
		return true
	}
}

// heldFor reports whether reason holds the slots.
func (g *gate) heldFor(reason string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.holds[reason]
}

// opened is closed once the gate is open.
func (g *gate) opened() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.open
}
