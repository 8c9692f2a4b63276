package intake

import (
	"crypto/sha256"
	"sync"
	"time"
)

// inboxTTL is how long an inbox waits for its answer: ingest may be behind
// on the stream, and a `nats req` client gives up after seconds anyway.
const inboxTTL = time.Minute

// answerTTL is how long an answer waits for an inbox. The core message and
// the stream message leave the server together, so a real pairing is a
// matter of milliseconds; keeping answers longer would hand an answer for a
// `nats pub` to a later `nats req` of the same bytes.
const answerTTL = 2 * time.Second

// payloadKey identifies a request by its subject and bytes: the only
// things the core message (which has the reply inbox) and the stream
// message (which has no reply subject, since JetStream does not store it)
// share. The subject keeps two clients' identical requests apart: their
// answers differ when one is over its quota.
type payloadKey [sha256.Size]byte

func keyOf(subject string, payload []byte) payloadKey {
	h := sha256.New()
	h.Write([]byte(subject))
	h.Write([]byte{0}) // no subject holds a NUL: the two parts cannot blur
	h.Write(payload)
	return payloadKey(h.Sum(nil))
}

type pending struct {
	value string // an inbox, or an answer
	body  []byte
	at    time.Time
}

// replies pairs the reply inbox of a `nats req` (seen on a core
// subscription) with the answer ingest produced for the same payload from
// the stream. Either may come first. Identical payloads pair the newest
// inbox first: they are mostly one client resending after a timeout, whose
// older inboxes nobody listens to any more (pairing those first would keep
// every answer one resend behind).
type replies struct {
	mu      sync.Mutex
	inboxes map[payloadKey][]pending
	answers map[payloadKey][]pending
	now     func() time.Time
	send    func(inbox string, body []byte)
}

func newReplies(send func(inbox string, body []byte), now func() time.Time) *replies {
	return &replies{
		inboxes: map[payloadKey][]pending{},
		answers: map[payloadKey][]pending{},
		now:     now,
		send:    send,
	}
}

// expect records an inbox waiting for the answer to payload, sent on
// subject.
func (r *replies) expect(subject string, payload []byte, inbox string) {
	k := keyOf(subject, payload)
	r.mu.Lock()
	if a, ok := pop(r.answers, k); ok && r.now().Sub(a.at) <= answerTTL {
		r.mu.Unlock()
		r.send(inbox, a.body)
		return
	}
	r.inboxes[k] = append(r.inboxes[k], pending{value: inbox, at: r.now()})
	r.mu.Unlock()
}

// answer delivers the answer for payload, sent on subject, to its inbox,
// or keeps it until the inbox shows up.
func (r *replies) answer(subject string, payload []byte, body []byte) {
	k := keyOf(subject, payload)
	r.mu.Lock()
	if in, ok := popNewest(r.inboxes, k); ok {
		r.mu.Unlock()
		r.send(in.value, body)
		return
	}
	r.answers[k] = append(r.answers[k], pending{body: body, at: r.now()})
	r.mu.Unlock()
}

// expire drops inboxes older than inboxTTL and answers older than
// answerTTL; most answers never meet an inbox, because most requests come
// from `nats pub`.
func (r *replies) expire() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for m, ttl := range map[*map[payloadKey][]pending]time.Duration{&r.inboxes: inboxTTL, &r.answers: answerTTL} {
		expireOlder(*m, r.now().Add(-ttl))
	}
}

func expireOlder(m map[payloadKey][]pending, cutoff time.Time) {
	for k, list := range m {
		i := 0
		for i < len(list) && list[i].at.Before(cutoff) {
			i++
		}
		if i == len(list) {
			delete(m, k)
		} else {
			m[k] = list[i:]
		}
	}
}

func popNewest(m map[payloadKey][]pending, k payloadKey) (pending, bool) {
	list := m[k]
	if len(list) == 0 {
		return pending{}, false
	}
	last := list[len(list)-1]
	if len(list) == 1 {
		delete(m, k)
	} else {
		m[k] = list[:len(list)-1]
	}
	return last, true
}

func pop(m map[payloadKey][]pending, k payloadKey) (pending, bool) {
	list := m[k]
	if len(list) == 0 {
		return pending{}, false
	}
	if len(list) == 1 {
		delete(m, k)
	} else {
		m[k] = list[1:]
	}
	return list[0], true
}
