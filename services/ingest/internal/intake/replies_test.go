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

func TestRepliesPairEitherOrder(t *testing.T) {
	t.Parallel()
	var out []sent
	now := time.Unix(0, 0)
	r := newReplies(func(in string, b []byte) { out = append(out, sent{in, string(b)}) }, func() time.Time { return now })

	r.expect([]byte("p1"), "inbox1")
	r.answer([]byte("p1"), []byte("a1"))
	r.answer([]byte("p2"), []byte("a2"))
	r.expect([]byte("p2"), "inbox2")
	// Identical payloads pair the newest inbox first: a client that
	// resent after a timeout listens only on its latest inbox.
	r.expect([]byte("p3"), "x-gave-up")
	r.expect([]byte("p3"), "y-resent")
	r.answer([]byte("p3"), []byte("first"))
	r.answer([]byte("p3"), []byte("second"))
	require.Equal(t, []sent{{"inbox1", "a1"}, {"inbox2", "a2"}, {"y-resent", "first"}, {"x-gave-up", "second"}}, out)
}

func TestRepliesExpire(t *testing.T) {
	t.Parallel()
	var out []sent
	now := time.Unix(0, 0)
	r := newReplies(func(in string, b []byte) { out = append(out, sent{in, string(b)}) }, func() time.Time { return now })
	r.answer([]byte("p"), []byte("stale"))
	now = now.Add(answerTTL + time.Millisecond)
	// Not yet swept, but too old to pair: an answer to a `nats pub` must
	// not reach a later `nats req` of the same bytes.
	r.expect([]byte("p"), "late")
	require.Empty(t, out, "an expired answer must not reach a later inbox")
	require.Len(t, r.inboxes, 1)
	now = now.Add(inboxTTL + time.Second)
	r.expire()
	require.Empty(t, r.inboxes)
	require.Empty(t, r.answers)
}
