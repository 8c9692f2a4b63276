// Package acks follows the acknowledgements runners send for job
// deliveries by listening on the consumer's ack subjects: every +WPI,
// +ACK, -NAK and +TERM is a plain publish the supervisor can see. It tells
// which deliveries are still being kept alive, which JetStream alone cannot
// say about a runner that heartbeats while its inference is hung.
package acks

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/lifecycle"
)

// Kind of acknowledgement: one of the bus.Ack* payload prefixes.
type Kind = string

// Acknowledgement kinds, as their payloads start.
const (
	InProgress Kind = bus.AckInProgress
	Ack        Kind = bus.AckDone
	Nak        Kind = bus.AckNak
	Term       Kind = bus.AckTerm
)

// Seen is the latest acknowledgement of one delivery, stamped with the
// supervisor's own receipt time.
type Seen struct {
	Kind Kind
	At   time.Time
}

// Source says when a delivery was last acknowledged: a Tracker, or a
// test's fake.
type Source interface {
	Last(token string) (Seen, bool)
}

// KeptAlive: the runner of the delivery token is still sending in-progress
// acks, the last one src saw within window of now. The watchdog's silence
// rule, the reconciler and the dead-letter handler all ask this.
func KeptAlive(src Source, token string, now time.Time, window time.Duration) bool {
	s, ok := src.Last(token)
	return ok && s.Kind == InProgress && now.Sub(s.At) <= window
}

// Tracker remembers the latest acknowledgement per delivery token
// ("<stream_seq>.<delivered>").
type Tracker struct {
	nc    *nats.Conn
	drops *bus.Drops
	now   func() time.Time

	mu    sync.RWMutex
	seen  map[string]Seen
	sub   *nats.Subscription
	prune *lifecycle.Loop
}

// retention bounds how long an acknowledgement is remembered; every rule
// that reads them looks back at most an AckWait.
const retention = 15 * time.Minute

// New makes a Tracker; Start subscribes.
// Acks that are not acks JetStream would act on are counted in drops (nil:
// a counter of its own).
func New(nc *nats.Conn, drops *bus.Drops) *Tracker {
	if drops == nil {
		drops = bus.NewDrops(zap.NewNop(), time.Minute)
	}
	t := &Tracker{nc: nc, drops: drops, now: time.Now, seen: map[string]Seen{}}
	t.prune = lifecycle.NewLoop(time.Minute, func(context.Context) { t.Prune(retention) })
	return t
}

// Start subscribes to the ack subjects and starts pruning.
func (t *Tracker) Start(ctx context.Context) error {
	sub, err := t.nc.Subscribe(bus.SubjectAcks, bus.Guard(t.drops, "ack", func(m *nats.Msg) {
		token, err := DeliveryToken(m.Subject)
		kind := bus.AckKindOf(m.Data)
		if err == nil && kind == "" {
			err = fmt.Errorf("%w: not an acknowledgement", bus.ErrMalformed)
		}
		if err != nil {
			t.drops.Note("junk:ack", m.Subject, err) // JetStream ignores it too
			return
		}
		t.Observe(token, kind)
	}))
	if err != nil {
		return fmt.Errorf("subscribe acks: %w", err)
	}
	t.sub = sub
	return t.prune.Start(ctx)
}

// Stop unsubscribes and stops pruning.
func (t *Tracker) Stop(ctx context.Context) error {
	if t.sub != nil {
		_ = t.sub.Unsubscribe()
	}
	return t.prune.Stop(ctx)
}

// Observe records an acknowledgement.
func (t *Tracker) Observe(token string, kind Kind) {
	t.mu.Lock()
	t.seen[token] = Seen{Kind: kind, At: t.now()}
	t.mu.Unlock()
}

// Last returns the latest acknowledgement of a delivery.
func (t *Tracker) Last(token string) (Seen, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	s, ok := t.seen[token]
	return s, ok
}

// Prune forgets deliveries not heard of for longer than age.
func (t *Tracker) Prune(age time.Duration) {
	cutoff := t.now().Add(-age)
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, s := range t.seen {
		if s.At.Before(cutoff) {
			delete(t.seen, k)
		}
	}
}

// DeliveryToken names the delivery an ack subject is for, as
// job.Delivery.Token does: "<stream_seq>.<delivered>".
func DeliveryToken(subject string) (string, error) {
	at, err := bus.ParseAckSubject(subject)
	if err != nil {
		return "", err
	}
	return (&job.Delivery{StreamSeq: at.StreamSeq, Delivered: int(at.Delivered)}).Token(), nil
}

// ParseToken reads a delivery token, "<stream_seq>.<delivered>", as
// job.Delivery.Token and DeliveryToken write it; one that does not parse
// is an error, with seq and delivered zero.
func ParseToken(token string) (seq uint64, delivered int, err error) {
	s, d, ok := strings.Cut(token, ".")
	if ok {
		seq, err = strconv.ParseUint(s, 10, 64)
	}
	if ok && err == nil {
		delivered, err = strconv.Atoi(d)
	}
	if !ok || err != nil || seq == 0 || delivered < 1 {
		return 0, 0, fmt.Errorf("delivery token %q", token)
	}
	return seq, delivered, nil
}
