package main

import (
	"math"
	"slices"

	"cyberimage/tools/internal/nearestrank"
)

// dist summarises a sample of durations in milliseconds.
type dist struct {
	N    int     `json:"n"`
	Mean float64 `json:"mean_ms"`
	P50  float64 `json:"p50_ms"`
	P95  float64 `json:"p95_ms"`
	P99  float64 `json:"p99_ms"`
	Max  float64 `json:"max_ms"`
}

// summarize sorts a copy of ms and reads its quantiles (nearest rank).
func summarize(ms []float64) dist {
	if len(ms) == 0 {
		return dist{}
	}
	s := slices.Clone(ms)
	slices.Sort(s)
	var sum float64
	for _, v := range s {
		sum += v
	}
	return dist{N: len(s), Mean: round3(sum / float64(len(s))), P50: round3(nearestrank.Sorted(s, 50)),
		P95: round3(nearestrank.Sorted(s, 95)), P99: round3(nearestrank.Sorted(s, 99)), Max: round3(s[len(s)-1])}
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }
