package watchdog

import (
	"context"
	"sync"
	"time"
)

// MemHistories keeps histories in memory: for unit tests.
type MemHistories struct {
	mu sync.Mutex
	m  map[string]History
}

// Update changes a runner's history.
func (m *MemHistories) Update(_ context.Context, runner string, change func(*History)) (History, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = map[string]History{}
	}
	h := m.m[runner]
	h.Stalls = append([]time.Time(nil), h.Stalls...)
	change(&h)
	m.m[runner] = h
	return h, nil
}

// Get returns a runner's history.
func (m *MemHistories) Get(_ context.Context, runner string) (History, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.m[runner], nil
}

// Pending lists runners with a reload order.
func (m *MemHistories) Pending(context.Context) (map[string]History, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]History{}
	for r, h := range m.m {
		if h.ReloadOrder != "" {
			out[r] = h
		}
	}
	return out, nil
}
