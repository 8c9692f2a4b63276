package worker

import "sync"

// gate lets slots pull new work or holds them: a quarantined runner (one
// ordered to reload its models after repeated stalls) takes no new work
// until its reload succeeded. Jobs already running are not affected.
type gate struct {
	mu   sync.Mutex
	open chan struct{} // closed while the gate is open
}

func newGate() *gate {
	g := &gate{open: make(chan struct{})}
	close(g.open)
	return g
}

func (g *gate) hold() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.open:
		g.open = make(chan struct{})
	default:
	}
}

func (g *gate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.open:
	default:
		close(g.open)
	}
}

func (g *gate) held() bool {
	select {
	case <-g.opened():
		return false
	default:
		return true
	}
}

// opened is closed once the gate is open.
func (g *gate) opened() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.open
}
