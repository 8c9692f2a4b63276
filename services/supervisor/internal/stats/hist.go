package stats

import "math"

// Latencies are kept as counts in fixed bins whose bounds grow by a
// constant factor, so a minute's figures take the same few hundred bytes
// however many jobs ended in it, any minutes merge by adding counts, and a
// percentile read from them is off by at most one bin's width (binGrowth,
// 35 %) of the true value.
const (
	bins      = 48
	binFirst  = 10.0 // ms: the first bin's upper bound
	binGrowth = 1.35 // each bound is this times the one before (the last bin has no upper bound)
)

// upper[i] is bin i's upper bound in ms.
var upper = func() (b [bins]float64) {
	v := binFirst
	for i := range b {
		b[i] = v
		v *= binGrowth
	}
	b[bins-1] = math.Inf(1)
	return b
}()

// hist counts latencies by bin.
type hist [bins]uint32

func (h *hist) add(ms float64) {
	if ms < 0 || math.IsNaN(ms) {
		return
	}
	i := 0
	for i < bins-1 && ms > upper[i] {
		i++
	}
	h[i]++
}

func (h *hist) merge(o *hist) {
	for i := range h {
		h[i] += o[i]
	}
}

func (h *hist) count() uint64 {
	var n uint64
	for _, c := range h {
		n += uint64(c)
	}
	return n
}

// quantile estimates the q-quantile (0 < q ≤ 1) in ms, interpolating
// within the bin it falls in; ok is false when the histogram is empty.
func (h *hist) quantile(q float64) (ms float64, ok bool) {
	n := h.count()
	if n == 0 {
		return 0, false
	}
	rank := q * float64(n)
	var seen float64
	for i, c := range h {
		if c == 0 {
			continue
		}
		if seen+float64(c) >= rank {
			lo := 0.0
			if i > 0 {
				lo = upper[i-1]
			}
			hi := upper[i]
			if math.IsInf(hi, 1) {
				return lo, true // past the last bound: the bound is the best we know
			}
			return lo + (hi-lo)*(rank-seen)/float64(c), true
		}
		seen += float64(c)
	}
	return upper[bins-2], true
}
