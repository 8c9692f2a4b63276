package tracker

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func keysOf(r *recent[int]) []string {
	var keys []string
	r.each(func(k string, _ int, _ time.Time) { keys = append(keys, k) })
	return keys
}

// Entries are kept least recently heard first, a write moving its entry
// last; pruning by age looks at every entry, so one left behind a newer
// one by a clock stepped back still goes.
func TestRecentKeepsTheOrderHeard(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	r := newRecent[int]()
	r.put("a", 1, t0)
	r.put("b", 2, t0.Add(time.Second))
	r.put("c", 3, t0.Add(2*time.Second))
	r.put("a", 4, t0.Add(3*time.Second))
	require.Equal(t, []string{"b", "c", "a"}, keysOf(r))
	key, at, ok := r.oldest()
	require.True(t, ok)
	require.Equal(t, "b", key)
	require.Equal(t, t0.Add(time.Second), at)
	v, ok := r.get("a")
	require.True(t, ok)
	require.Equal(t, 4, v)

	r.put("stepped-back", 5, t0.Add(-time.Hour)) // last in order, oldest in time
	require.Equal(t, 3, r.dropHeardBefore(t0.Add(3*time.Second)))
	require.Equal(t, []string{"a"}, keysOf(r))
	r.remove("a")
	r.remove("never")
	_, _, ok = r.oldest()
	require.False(t, ok)
	require.Zero(t, r.len())
}
