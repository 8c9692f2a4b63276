package nearestrank

import (
	"testing"
	"time"
)

func secsOf(xs ...float64) []time.Duration {
	ds := make([]time.Duration, len(xs))
	for i, x := range xs {
		ds[i] = time.Duration(x * float64(time.Second))
	}
	return ds
}

func TestPercentileIsNearestRank(t *testing.T) {
	twenty := secsOf(20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19)
	for _, c := range []struct {
		name string
		ds   []time.Duration
		p    float64
		want float64
	}{
		{"none", nil, 50, 0},
		{"one", secsOf(7), 99, 7},
		{"p50 of 20 is the 10th", twenty, 50, 10},
		{"p99 of 20 is the largest", twenty, 99, 20},
		{"p95 of 20 is the 19th", twenty, 95, 19},
		{"p90 of 9 is the largest", secsOf(9, 1, 2, 3, 4, 5, 6, 7, 8), 90, 9},
		{"p99 of 5 is the largest", secsOf(3, 9, 1, 4, 2), 99, 9},
		{"p50 of 5 is the 3rd", secsOf(3, 9, 1, 4, 2), 50, 3},
		{"max", secsOf(3, 9, 1), 100, 9},
	} {
		if got := Percentile(c.ds, c.p); got != secsOf(c.want)[0] {
			t.Errorf("%s: Percentile = %s, want %.0fs", c.name, got, c.want)
		}
	}
	if twenty[0] != 20*time.Second {
		t.Error("Percentile sorted its input in place")
	}
}

// Every whole percentile of every sample size up to 200 is the value of
// rank ceil(p·n/100), as integer arithmetic counts it.
func TestSortedMatchesIntegerRanks(t *testing.T) {
	for n := 1; n <= 200; n++ {
		sorted := make([]int, n)
		for i := range sorted {
			sorted[i] = i + 1
		}
		for p := 1; p <= 100; p++ {
			if got, want := Sorted(sorted, float64(p)), (p*n+99)/100; got != want {
				t.Fatalf("p%d of %d: rank %d, want %d", p, n, got, want)
			}
		}
	}
	if got := Sorted([]float64{1.5, 2.5}, 50); got != 1.5 {
		t.Errorf("p50 of two floats = %v, want the first", got)
	}
}
