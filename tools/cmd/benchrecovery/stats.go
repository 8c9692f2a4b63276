package main

import (
	"sort"
	"time"
)

// longestPause is the longest time without a completion that begins in
// the window [from, to], given every completion time sorted. A pause is
// counted from from at the earliest (a lull before a fault is not the
// fault's), and whole up to the completion that ends it even when that
// comes after to; up to to when completions had not resumed by then.
func longestPause(done []time.Time, from, to time.Time) time.Duration {
	i := sort.Search(len(done), func(i int) bool { return done[i].After(from) })
	prev := from
	var longest time.Duration
	for ; i < len(done); i++ {
		longest = max(longest, done[i].Sub(prev))
		if !done[i].Before(to) {
			return longest
		}
		prev = done[i]
	}
	return max(longest, to.Sub(prev))
}

// before is the completions earlier than t, sorted as done is: a window's
// pauses cut at its end.
func before(done []time.Time, t time.Time) []time.Time {
	return done[:sort.Search(len(done), func(i int) bool { return !done[i].Before(t) })]
}
