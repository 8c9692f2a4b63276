package intake

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type sent struct {
	inbox string
	body  string
}

const subject = "cyberimage.requests"

func TestRepliesPairEitherOrder(t *testing.T) {
	t.Parallel()
	var out []sent
	now := time.Unix(0, 0)
	r := newReplies(func(in string, b []byte) { out = append(out, sent{in, string(b)}) }, func() time.Time { return now })

	r.expect(subject, []byte("p1"), "inbox1")
	r.answer(subject, []byte("p1"), []byte("a1"))
	r.answer(subject, []byte("p2"), []byte("a2"))
	r.expect(subject, []byte("p2"), "inbox2")
	// Identical payloads pair the newest inbox first: a client that
	// resent after a timeout listens only on its latest inbox.
	r.expect(subject, []byte("p3"), "x-gave-up")
	r.expect(subject, []byte("p3"), "y-resent")
	r.answer(subject, []byte("p3"), []byte("first"))
	r.answer(subject, []byte("p3"), []byte("second"))
	require.Equal(t, []sent{{"inbox1", "a1"}, {"inbox2", "a2"}, {"y-resent", "first"}, {"x-gave-up", "second"}}, out)
}

func TestRepliesExpire(t *testing.T) {
	t.Parallel()
	var out []sent
	now := time.Unix(0, 0)
	r := newReplies(func(in string, b []byte) { out = append(out, sent{in, string(b)}) }, func() time.Time { return now })
	r.answer(subject, []byte("p"), []byte("stale"))
	now = now.Add(answerTTL + time.Millisecond)
	// Not yet swept, but too old to pair: an answer to a `nats pub` must
	// not reach a later `nats req` of the same bytes.
	r.expect(subject, []byte("p"), "late")
	require.Empty(t, out, "an expired answer must not reach a later inbox")
	require.Len(t, r.inboxes, 1)
	now = now.Add(inboxTTL + time.Second)
	r.expire()
	require.Empty(t, r.inboxes)
	require.Empty(t, r.answers)
}

// Two clients' identical requests pair with their own answers: one may be
// refused for its quota while the other is queued.
func TestRepliesKeepSubjectsApart(t *testing.T) {
	t.Parallel()
	var out []sent
	r := newReplies(func(in string, b []byte) { out = append(out, sent{in, string(b)}) }, time.Now)
	r.expect("cyberimage.requests.alice", []byte("same"), "alice-inbox")
	r.expect("cyberimage.requests.bob", []byte("same"), "bob-inbox")
	r.answer("cyberimage.requests.alice", []byte("same"), []byte("refused"))
	r.answer("cyberimage.requests.bob", []byte("same"), []byte("queued"))
	require.Equal(t, []sent{{"alice-inbox", "refused"}, {"bob-inbox", "queued"}}, out)
}
