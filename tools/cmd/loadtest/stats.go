package main

import (
	"math"
	"slices"
	"time"
)

// percentile returns the p-th percentile (nearest rank) of ds; ds must not
// be empty.
func percentile(ds []time.Duration, p float64) time.Duration {
	sorted := slices.Clone(ds)
	slices.Sort(sorted)
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// roundDur rounds a duration for display: milliseconds under a minute.
func roundDur(d time.Duration) time.Duration {
	if d < time.Minute {
		return d.Round(time.Millisecond)
	}
	return d.Round(100 * time.Millisecond)
}
