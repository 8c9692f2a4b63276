package api

import (
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"cyberimage/shared/bus"
)

// eventBuffer is how many events a stream may fall behind by; past it the
// stream misses events (its client is not keeping up), as a subscription
// of its own would have.
const eventBuffer = 256

// eventHub shares the event subscriptions among the open streams: one per
// subject (the all-jobs one, or one job's), open while a stream wants it.
// Each message is decoded once per subscription it arrives on, so junk is
// counted once per subscription, not once per stream listening (the bus's
// drops are what arrived). A job's event arrives on both the all-jobs
// subscription and that job's while both are open, and is then decoded,
// and counted if junk, on each.
type eventHub struct {
	nc    *nats.Conn
	drops *bus.Drops

	mu   sync.Mutex
	subs map[string]*eventSub // subject → its subscription and streams
}

type eventSub struct {
	sub     *nats.Subscription
	streams map[chan bus.ProgressEvent]struct{}
}

func newEventHub(nc *nats.Conn, drops *bus.Drops) *eventHub {
	if drops == nil {
		drops = bus.NewDrops(zap.NewNop(), time.Minute)
	}
	return &eventHub{nc: nc, drops: drops, subs: map[string]*eventSub{}}
}

// join gives a stream the events of subject, subscribing if it is the
// first to want them; leave ends that, unsubscribing after the last.
func (h *eventHub) join(subject string) (events <-chan bus.ProgressEvent, leave func(), err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	es := h.subs[subject]
	if es == nil {
		sub, err := h.nc.Subscribe(subject, bus.Guard(h.drops, "event", h.deliver(subject)))
		if err != nil {
			return nil, nil, fmt.Errorf("subscribe to %s: %w", subject, err)
		}
		es = &eventSub{sub: sub, streams: map[chan bus.ProgressEvent]struct{}{}}
		h.subs[subject] = es
	}
	ch := make(chan bus.ProgressEvent, eventBuffer)
	es.streams[ch] = struct{}{}
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(es.streams, ch)
		if len(es.streams) == 0 && h.subs[subject] == es {
			delete(h.subs, subject)
			_ = es.sub.Unsubscribe()
		}
	}, nil
}

// deliver decodes a message of subject's subscription once and hands the
// event to its streams; junk reaches none. A job's message also reaches
// the all-jobs subscription when one is open, so then only that one
// counts junk (around its opening or closing one may count twice, or not
// at all).
func (h *eventHub) deliver(subject string) nats.MsgHandler {
	return func(m *nats.Msg) {
		ev, err := bus.DecodeProgressEvent(m.Data)
		if err == nil && m.Subject != bus.EventSubject(ev.JobID) {
			err = fmt.Errorf("%w: event of %q on another job's subject", bus.ErrMalformed, ev.JobID)
		}
		h.mu.Lock()
		count := subject == bus.SubjectEventsAll || h.subs[bus.SubjectEventsAll] == nil
		if es := h.subs[subject]; err == nil && es != nil {
			for ch := range es.streams {
				select {
				case ch <- ev:
				default: // this stream's client is behind: it misses the event
				}
			}
		}
		h.mu.Unlock()
		if err != nil && count {
			h.drops.Note("junk:event", m.Subject, err)
		}
	}
}
