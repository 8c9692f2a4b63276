package stats

import (
	"errors"
	"time"
)

// Windows the figures are read over, and the step of each: one point a
// minute for the last hour, one every ten minutes for the last day.
var windows = map[string]struct{ span, step time.Duration }{
	"1h":  {time.Hour, time.Minute},
	"24h": {Span, 10 * time.Minute},
}

// ErrWindow: a window other than 1h and 24h.
var ErrWindow = errors.New("window must be 1h or 24h")

// Series is a window of figures, one point per step, oldest first; each
// slice holds one value per point. A null value (nil) means nothing was
// seen in that step: no job ended, no sample was taken.
type Series struct {
	Window      string `json:"window"`
	StepSeconds int    `json:"step_seconds"`
	// Model, when set, narrows the ended counts and the queue depth to
	// one model; latencies are of every model.
	Model string `json:"model,omitempty"`
	// Since is when this supervisor began keeping figures (they are not
	// kept across restarts).
	Since time.Time `json:"since"`
	// Times are the starts of the steps.
	Times     []time.Time `json:"times"`
	Completed []uint32    `json:"completed"`
	Failed    []uint32    `json:"failed"`
	Cancelled []uint32    `json:"cancelled"`
	// Latencies in ms, per step.
	EndToEndMS  Quantiles `json:"end_to_end_ms"`
	QueueWaitMS Quantiles `json:"queue_wait_ms"`
	// QueueDepth is the highest depth sampled in each step, by label.
	QueueDepth Depths `json:"queue_depth"`
	Totals     Totals `json:"totals"`
}

// Quantiles are latency percentiles per step.
type Quantiles struct {
	P50 []*float64 `json:"p50"`
	P95 []*float64 `json:"p95"`
	P99 []*float64 `json:"p99"`
}

// Depths are queue depth series by label.
type Depths struct {
	ByModel    map[string][]*int `json:"by_model"`
	ByPriority map[string][]*int `json:"by_priority"`
}

// Totals sum the whole window.
type Totals struct {
	Completed   uint64  `json:"completed"`
	Failed      uint64  `json:"failed"`
	Cancelled   uint64  `json:"cancelled"`
	EndToEndMS  Summary `json:"end_to_end_ms"`
	QueueWaitMS Summary `json:"queue_wait_ms"`
}

// Summary is a window's latency percentiles.
type Summary struct {
	Count uint64   `json:"count"`
	P50   *float64 `json:"p50"`
	P95   *float64 `json:"p95"`
	P99   *float64 `json:"p99"`
}

// frame is a window's points: the first minute, the minutes per point and
// the number of points, up to the current minute.
type frame struct {
	start, per  int64
	points      int
	stepSeconds int
}

func (r *Recorder) frame(window string) (frame, error) {
	w, ok := windows[window]
	if !ok {
		return frame{}, ErrWindow
	}
	per := int64(w.step / time.Minute)
	points := int(w.span / w.step)
	end := minuteOf(r.now()) + 1 // exclusive
	// Steps are aligned to their size, so a point keeps its minutes as the
	// window moves on.
	end += (per - end%per) % per
	return frame{start: end - int64(points)*per, per: per, points: points, stepSeconds: int(w.step / time.Second)}, nil
}

// Series reads the window named ("1h" or "24h") up to the current minute;
// model, when not empty, narrows the counts and depth to it.
func (r *Recorder) Series(window, model string) (Series, error) {
	f, err := r.frame(window)
	if err != nil {
		return Series{}, err
	}
	start, per, points := f.start, f.per, f.points
	out := Series{Window: window, StepSeconds: f.stepSeconds, Model: model, Since: r.since,
		Times: make([]time.Time, points), Completed: make([]uint32, points), Failed: make([]uint32, points), Cancelled: make([]uint32, points),
		EndToEndMS: newQuantiles(points), QueueWaitMS: newQuantiles(points),
		QueueDepth: Depths{ByModel: map[string][]*int{}, ByPriority: map[string][]*int{}}}
	var allE2E, allWait hist
	r.mu.Lock()
	defer r.mu.Unlock()
	label := ""
	if model != "" {
		label = r.models.lookup(model)
	}
	for p := range points {
		var e ended
		var e2e, wait hist
		from := start + int64(p)*per
		out.Times[p] = time.Unix(from*60, 0).UTC()
		for m := from; m < from+per; m++ {
			s := r.at(m)
			if s == nil {
				continue
			}
			if model == "" {
				e.plus(s.ended)
			} else {
				e.plus(s.byModel[label])
			}
			e2e.merge(&s.e2e)
			wait.merge(&s.wait)
			for k, v := range s.depthModel {
				if model == "" || k == label {
					raise(out.QueueDepth.ByModel, k, p, points, v)
				}
			}
			if model == "" {
				for k, v := range s.depthPriority {
					raise(out.QueueDepth.ByPriority, k, p, points, v)
				}
			}
		}
		out.Completed[p], out.Failed[p], out.Cancelled[p] = e.completed, e.failed, e.cancelled
		out.Totals.Completed += uint64(e.completed)
		out.Totals.Failed += uint64(e.failed)
		out.Totals.Cancelled += uint64(e.cancelled)
		out.EndToEndMS.set(p, &e2e)
		out.QueueWaitMS.set(p, &wait)
		allE2E.merge(&e2e)
		allWait.merge(&wait)
	}
	out.Totals.EndToEndMS = summaryOf(&allE2E)
	out.Totals.QueueWaitMS = summaryOf(&allWait)
	return out, nil
}

// lookup is the series a name is counted under, without adding it.
func (l *labels) lookup(name string) string {
	if l.known[name] {
		return name
	}
	if len(l.known) >= l.cap {
		return Other
	}
	return name
}

func raise(series map[string][]*int, label string, p, points, v int) {
	s, ok := series[label]
	if !ok {
		s = make([]*int, points)
		series[label] = s
	}
	if s[p] == nil || v > *s[p] {
		s[p] = &v
	}
}

func newQuantiles(n int) Quantiles {
	return Quantiles{P50: make([]*float64, n), P95: make([]*float64, n), P99: make([]*float64, n)}
}

func (q Quantiles) set(p int, h *hist) {
	q.P50[p], q.P95[p], q.P99[p] = quantile(h, 0.5), quantile(h, 0.95), quantile(h, 0.99)
}

func quantile(h *hist, q float64) *float64 {
	v, ok := h.quantile(q)
	if !ok {
		return nil
	}
	return &v
}

func summaryOf(h *hist) Summary {
	return Summary{Count: h.count(), P50: quantile(h, 0.5), P95: quantile(h, 0.95), P99: quantile(h, 0.99)}
}
