// Package nearestrank reads percentiles the way every bench and the load
// test report them: by nearest rank, so each is a value that was measured,
// never one interpolated between two (with 20 samples, p99 is the
// largest).
package nearestrank

import (
	"cmp"
	"math"
	"slices"
)

// Percentile is the p-th percentile (0-100] of xs by nearest rank; zero
// for none. xs is left as it was.
func Percentile[T cmp.Ordered](xs []T, p float64) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	return Sorted(s, p)
}

// Sorted is Percentile of a sample already sorted.
func Sorted[T cmp.Ordered](sorted []T, p float64) T {
	if len(sorted) == 0 {
		var zero T
		return zero
	}
	// p*n first: exact for a whole p, so the rank of a p95 of 20 is 19,
	// not 20 by a rounding error.
	rank := int(math.Ceil(p * float64(len(sorted)) / 100))
	return sorted[min(max(rank, 1), len(sorted))-1]
}
