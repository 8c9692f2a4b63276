package api

import (
	"fmt"
	"sync"
)

// streamCaps bounds the server-sent event streams open at once, in all and
// per client: each holds a NATS subscription and a goroutine, so without
// the per-client cap one client could take every stream there is and
// leave the console without its live views.
type streamCaps struct {
	total, perClient int

	mu       sync.Mutex
	open     int
	byClient map[string]int
}

func newStreamCaps(total, perClient int) *streamCaps {
	return &streamCaps{total: total, perClient: perClient, byClient: map[string]int{}}
}

// take counts a new stream of client; when a cap is reached it says which.
// release gives the stream back.
func (c *streamCaps) take(client string) (release func(), refused string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.byClient[client] >= c.perClient:
		return nil, fmt.Sprintf("too many event streams from this client (%d open); close some", c.perClient)
	case c.open >= c.total:
		return nil, fmt.Sprintf("too many event streams open (%d); try again later", c.total)
	}
	c.open++
	c.byClient[client]++
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.open--
			if c.byClient[client]--; c.byClient[client] == 0 {
				delete(c.byClient, client) // the map holds open clients only
			}
		})
	}, ""
}
