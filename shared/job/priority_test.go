package job

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPriorityClasses(t *testing.T) {
	t.Parallel()
	require.Equal(t, []Priority{PriorityHigh, PriorityNormal, PriorityLow}, Priorities())
	require.Equal(t, PriorityNormal, Priority("").Class(), "none given (records from before priorities) is normal")
	require.True(t, Priority("").Valid())
	require.False(t, Priority("urgent").Valid())
	require.Equal(t, 10, PriorityHigh.Weight()+PriorityNormal.Weight()+PriorityLow.Weight())
}

// Every draw is one of the 3! orders, each class once; with a source that
// always answers 0 the order is strict, highest first; with one that
// always answers its largest value, lowest first.
func TestPullOrderIsAnOrderOfTheClasses(t *testing.T) {
	t.Parallel()
	require.Equal(t, Priorities(), PullOrder(func(int) int { return 0 }))
	require.Equal(t, []Priority{PriorityLow, PriorityNormal, PriorityHigh}, PullOrder(func(n int) int { return n - 1 }))
	r := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		got := PullOrder(r.IntN)
		require.ElementsMatch(t, Priorities(), got)
	}
}

// pulls simulates slots pulling from a model's classes, each class with
// work when backlogged says so, and returns how many jobs each class gave.
func pulls(r *rand.Rand, n int, backlogged map[Priority]bool) map[Priority]int {
	took := map[Priority]int{}
	for range n {
		for _, p := range PullOrder(r.IntN) {
			if backlogged[p] {
				took[p]++
				break
			}
		}
	}
	return took
}

// While every class has work, pulls go 6:3:1; among the classes that have
// work, in proportion to their weights.
func TestPullOrderProportions(t *testing.T) {
	t.Parallel()
	const n = 100_000
	r := rand.New(rand.NewPCG(3, 4))
	all := pulls(r, n, map[Priority]bool{PriorityHigh: true, PriorityNormal: true, PriorityLow: true})
	require.InDelta(t, 0.6, float64(all[PriorityHigh])/n, 0.01)
	require.InDelta(t, 0.3, float64(all[PriorityNormal])/n, 0.01)
	require.InDelta(t, 0.1, float64(all[PriorityLow])/n, 0.01)

	noHigh := pulls(r, n, map[Priority]bool{PriorityNormal: true, PriorityLow: true})
	require.InDelta(t, 0.75, float64(noHigh[PriorityNormal])/n, 0.01)
	require.InDelta(t, 0.25, float64(noHigh[PriorityLow])/n, 0.01)

	lowOnly := pulls(r, 1000, map[Priority]bool{PriorityLow: true})
	require.Equal(t, 1000, lowOnly[PriorityLow], "a class alone has every pull")
}

// The starvation bound PullOrder documents: with every class backlogged,
// each pull takes low first with chance exactly 1/10 (checked over every
// draw of a source), so the longest run of pulls without a low job is
// geometric; over 100,000 pulls it stays within the documented bound.
func TestPullOrderStarvationBound(t *testing.T) {
	t.Parallel()
	// Exactly: of the 10 equally likely first answers, one puts low first.
	lowFirst := 0
	for first := range 10 {
		calls := 0
		order := PullOrder(func(n int) int {
			calls++
			if calls == 1 {
				return first
			}
			return 0
		})
		if order[0] == PriorityLow {
			lowFirst++
		}
	}
	require.Equal(t, 1, lowFirst)

	// Empirically: the longest gap between low jobs. P(gap > 132) is below
	// 1e-6 per low job, about 1e-2 over the ~10,000 gaps here.
	r := rand.New(rand.NewPCG(5, 6))
	gap, longest := 0, 0
	for range 100_000 {
		if PullOrder(r.IntN)[0] == PriorityLow {
			gap = 0
			continue
		}
		gap++
		longest = max(longest, gap)
	}
	require.Less(t, longest, 132, "a low job waited %d pulls with every class backlogged", longest)
	require.Greater(t, longest, 20, "the draw never passed low over for long: is it random?")
}
