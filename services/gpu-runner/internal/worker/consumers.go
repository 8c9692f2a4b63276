package worker

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"
)

// consumerState tracks which of the runner's consumers answer pulls: the
// runner is ready only while all do. Losses and returns are logged once
// each and counted.
type consumerState struct {
	log     *zap.Logger
	mu      sync.Mutex
	missing map[string]error
	rebinds atomic.Int64
}

func (c *consumerState) down(name string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, known := c.missing[name]; known {
		return
	}
	if c.missing == nil {
		c.missing = map[string]error{}
	}
	c.missing[name] = err
	c.log.Warn("consumer unavailable; not ready, pulling again until it is back", zap.String("consumer", name), zap.Error(err))
}

func (c *consumerState) up(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, was := c.missing[name]; !was {
		return
	}
	delete(c.missing, name)
	c.rebinds.Add(1)
	c.log.Info("consumer back; pulling again", zap.String("consumer", name))
}

// err names the consumers that do not answer, or is nil.
func (c *consumerState) err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.missing) == 0 {
		return nil
	}
	names := make([]string, 0, len(c.missing))
	for n := range c.missing {
		names = append(names, n)
	}
	sort.Strings(names)
	return fmt.Errorf("consumers unavailable: %s", strings.Join(names, ", "))
}

// ConsumersReady is nil while every consumer of the runner answers pulls.
func (w *Worker) ConsumersReady() error { return w.consumers.err() }

// Rebinds counts consumers lost and answering again.
func (w *Worker) Rebinds() int64 { return w.consumers.rebinds.Load() }
