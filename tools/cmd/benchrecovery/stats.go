package main

import (
	"math"
	"slices"
	"sort"
	"time"
)

// percentile is the nearest-rank percentile p (0-100] of ds: a value that
// was measured, never one interpolated between two. With 20 samples p99 is
// the largest; 0 for none.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[min(max(rank, 1), len(s))-1]
}

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
