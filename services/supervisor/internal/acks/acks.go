// Package acks follows the acknowledgements runners send for job
// deliveries by listening on the consumer's ack subjects: every +WPI,
// +ACK, -NAK and +TERM is a plain publish the supervisor can see. It tells
// which deliveries are still being kept alive, which JetStream alone cannot
// say about a runner that heartbeats while its inference is hung.
package acks

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"cyberimage/shared/bus"
)

// Kind of acknowledgement.
type Kind string

// Acknowledgement kinds, as their payloads start.
const (
	InProgress Kind = "+WPI"
	Ack        Kind = "+ACK"
	Nak        Kind = "-NAK"
	Term       Kind = "+TERM"
)

// Seen is the latest acknowledgement of one delivery.
type Seen struct {
	Kind Kind
	At   time.Time
}

// Tracker remembers the latest acknowledgement per delivery token
// ("<stream_seq>.<delivered>").
type Tracker struct {
	nc  *nats.Conn
	now func() time.Time

	mu   sync.RWMutex
	seen map[string]Seen
	sub  *nats.Subscription
	stop chan struct{}
	wg   sync.WaitGroup
}

// retention bounds how long an acknowledgement is remembered; every rule
// that reads them looks back at most an AckWait.
const retention = 15 * time.Minute

// New makes a Tracker; Start subscribes.
func New(nc *nats.Conn) *Tracker {
	return &Tracker{nc: nc, now: time.Now, seen: map[string]Seen{}, stop: make(chan struct{})}
}

// Start subscribes to the ack subjects.
func (t *Tracker) Start() error {
	sub, err := t.nc.Subscribe(bus.SubjectAcks, func(m *nats.Msg) {
		token, err := DeliveryToken(m.Subject)
		if err != nil {
			return
		}
		t.Observe(token, kindOf(m.Data))
	})
	if err != nil {
		return fmt.Errorf("subscribe acks: %w", err)
	}
	t.sub = sub
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		tick := time.NewTicker(time.Minute)
		defer tick.Stop()
		for {
			select {
			case <-t.stop:
				return
			case <-tick.C:
				t.Prune(retention)
			}
		}
	}()
	return nil
}

// Stop unsubscribes and stops pruning.
func (t *Tracker) Stop() {
	if t.sub != nil {
		_ = t.sub.Unsubscribe()
	}
	close(t.stop)
	t.wg.Wait()
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

func kindOf(payload []byte) Kind {
	for _, k := range []Kind{InProgress, Ack, Nak, Term} {
		if strings.HasPrefix(string(payload), string(k)) {
			return k
		}
	}
	if len(payload) == 0 {
		return Ack // an empty payload is an ack
	}
	return Kind(strings.Fields(string(payload))[0])
}

// DeliveryToken extracts "<stream_seq>.<delivered>" from an ack subject:
// $JS.ACK.<stream>.<consumer>.<delivered>.<stream_seq>.<consumer_seq>.<ts>.<pending>,
// or the newer form with domain and account hash before the stream.
func DeliveryToken(subject string) (string, error) {
	tok := strings.Split(subject, ".")
	var delivered, seq string
	switch {
	case len(tok) == 9 && tok[0] == "$JS" && tok[1] == "ACK":
		delivered, seq = tok[4], tok[5]
	case len(tok) >= 11 && tok[0] == "$JS" && tok[1] == "ACK":
		delivered, seq = tok[6], tok[7]
	default:
		return "", fmt.Errorf("not an ack subject: %q", subject)
	}
	if _, err := strconv.ParseUint(delivered, 10, 64); err != nil {
		return "", fmt.Errorf("ack subject %q: bad delivered count", subject)
	}
	if _, err := strconv.ParseUint(seq, 10, 64); err != nil {
		return "", fmt.Errorf("ack subject %q: bad stream sequence", subject)
	}
	return seq + "." + delivered, nil
}
