package bus

import (
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
)

// Drops counts what a service threw away from the bus: messages that did
// not decode, and handlers that panicked. Each kind is logged at most once
// per interval with the count since, so a flood of junk costs a counter,
// not a log line per message.
type Drops struct {
	log      *zap.Logger
	interval time.Duration

	mu     sync.Mutex
	counts map[string]uint64 // kind → total
	quiet  map[string]uint64 // kind → dropped since the last log line
	logged map[string]time.Time
}

// NewDrops makes a counter that logs at most once per interval per kind.
func NewDrops(log *zap.Logger, interval time.Duration) *Drops {
	return &Drops{log: log, interval: interval, counts: map[string]uint64{}, quiet: map[string]uint64{}, logged: map[string]time.Time{}}
}

// Note counts one dropped message of a kind (the subject family or
// "panic:<handler>") and logs it unless that kind was logged recently.
func (d *Drops) Note(kind, subject string, err error) {
	d.mu.Lock()
	d.counts[kind]++
	d.quiet[kind]++
	now := time.Now()
	if now.Sub(d.logged[kind]) < d.interval {
		d.mu.Unlock()
		return
	}
	n := d.quiet[kind]
	d.quiet[kind] = 0
	d.logged[kind] = now
	d.mu.Unlock()
	d.log.Warn("dropped messages from the bus", zap.String("kind", kind), zap.String("subject", subject),
		zap.Uint64("since_last_report", n), zap.Error(err))
}

// Counts returns the totals by kind, sorted by kind.
func (d *Drops) Counts() []DropCount {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]DropCount, 0, len(d.counts))
	for k, n := range d.counts {
		out = append(out, DropCount{Kind: k, Count: n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Kind < out[j].Kind })
	return out
}

// Total is the number of messages dropped, all kinds together.
func (d *Drops) Total() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	var n uint64
	for _, c := range d.counts {
		n += c
	}
	return n
}

// DropCount is the total of one kind.
type DropCount struct {
	Kind  string `json:"kind"`
	Count uint64 `json:"count"`
}

// Guard wraps a subscription handler so that a panic in it is recovered,
// logged and counted as a drop of kind "panic:<name>" instead of taking
// the process down: nats.go runs handlers on its own goroutines, where an
// unrecovered panic ends the program.
func Guard(d *Drops, name string, h nats.MsgHandler) nats.MsgHandler {
	return func(m *nats.Msg) {
		defer func() {
			if p := recover(); p != nil {
				d.Note("panic:"+name, m.Subject, fmt.Errorf("handler panicked: %v", p))
			}
		}()
		h(m)
	}
}
