package main

import (
	"errors"
	"fmt"
	"image/color"
	"math"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// drawCharts writes the PNG charts into out and returns their names.
func drawCharts(out string, r *results) ([]string, error) {
	charts := []struct {
		name string
		draw func(*results) (*plot.Plot, error)
	}{
		{"latency.png", latencyChart},
		{"throughput.png", throughputChart},
		{"stages.png", stagesChart},
	}
	var names []string
	var errs []error
	for _, c := range charts {
		p, err := c.draw(r)
		if err == nil {
			err = p.Save(22*vg.Centimeter, 12*vg.Centimeter, filepath.Join(out, c.name))
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.name, err))
			continue
		}
		names = append(names, c.name)
	}
	return names, errors.Join(errs...)
}

var (
	blue   = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	orange = color.RGBA{R: 255, G: 127, B: 14, A: 255}
	green  = color.RGBA{R: 44, G: 160, B: 44, A: 255}
	red    = color.RGBA{R: 214, G: 39, B: 40, A: 255}
	purple = color.RGBA{R: 148, G: 103, B: 189, A: 255}
	grey   = color.RGBA{R: 127, G: 127, B: 127, A: 255}
)

// latencyChart: each job's end-to-end latency and its queue wait against
// the time it completed, in the throughput phase; the latency phase's jobs
// follow on the same time axis.
func latencyChart(r *results) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "End-to-end latency over time (log scale)"
	p.X.Label.Text = "seconds since the phase started (completion time)"
	p.Y.Label.Text = "ms"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Legend.Top, p.Legend.Left = true, true
	add := func(pts []point, offset float64, value func(point) float64, c color.Color, label string) error {
		xys := make(plotter.XYs, 0, len(pts))
		for _, pt := range pts {
			if v := value(pt); v > 0 {
				xys = append(xys, plotter.XY{X: pt.at + offset, Y: v})
			}
		}
		if len(xys) == 0 {
			return nil
		}
		s, err := plotter.NewScatter(xys)
		if err != nil {
			return err
		}
		s.GlyphStyle.Color, s.GlyphStyle.Radius = c, vg.Points(1.2)
		p.Add(s)
		p.Legend.Add(label, s)
		return nil
	}
	e2e := func(pt point) float64 { return pt.e2e }
	service := func(pt point) float64 { return pt.e2e - pt.queue }
	if err := add(r.Burst.points, 0, e2e, blue, "throughput phase: publish → completed"); err != nil {
		return nil, err
	}
	if err := add(r.Burst.points, 0, service, orange, "throughput phase: less queue wait"); err != nil {
		return nil, err
	}
	top := 1.0
	for _, pt := range r.Burst.points {
		top = math.Max(top, pt.e2e)
	}
	p.Y.Max = top * 5 // headroom for the legend
	if r.Paced != nil {
		offset := r.Burst.Seconds + 1
		if err := add(r.Paced.points, offset, e2e, green, fmt.Sprintf("latency phase (%d in flight): publish → completed", r.Paced.InFlight)); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// throughputChart: completions per half second in the throughput phase,
// against the three raw limits.
func throughputChart(r *results) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Throughput against the raw limits of this run"
	p.X.Label.Text = "seconds since the requests were published"
	p.Y.Label.Text = "per second (log scale): jobs, messages, PUTs, runs"
	p.Legend.Top = true
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	end := 0.0
	for _, pt := range r.Burst.points {
		end = math.Max(end, pt.at)
	}
	bucket := math.Max(0.1, end/40)
	counts := make([]float64, int(end/bucket)+1)
	for _, pt := range r.Burst.points {
		counts[int(pt.at/bucket)]++
	}
	xys := make(plotter.XYs, 0, len(counts))
	for i, n := range counts {
		if n > 0 { // log scale
			xys = append(xys, plotter.XY{X: (float64(i) + 0.5) * bucket, Y: n / bucket})
		}
	}
	if len(xys) == 0 {
		return nil, errors.New("no completions")
	}
	line, err := plotter.NewLine(xys)
	if err != nil {
		return nil, err
	}
	line.Color, line.Width = blue, vg.Points(1.5)
	p.Add(line)
	p.Legend.Add(fmt.Sprintf("pipeline (%.0f jobs/s overall)", r.Burst.JobsPerSec), line)
	for i, l := range r.Limits {
		flat, err := plotter.NewLine(plotter.XYs{{X: 0, Y: l.PerSec}, {X: end, Y: l.PerSec}})
		if err != nil {
			return nil, err
		}
		flat.Color = []color.Color{red, green, purple}[i%3]
		flat.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(flat)
		p.Legend.Add(fmt.Sprintf("%s alone: %.0f/s", l.Name, l.PerSec), flat)
	}
	peak := 0.0
	for _, l := range r.Limits {
		peak = math.Max(peak, l.PerSec)
	}
	p.Y.Max = peak * 8 // headroom for the legend
	return p, nil
}

// stagesChart: the median time of each stage, stacked, for each phase: a
// typical job. (Means would add up exactly, but one slow tail, such as an
// idle runner polling another model's queue, would swamp them.) The
// throughput phase's queue wait is left out: it is the backlog of a burst,
// not a cost of the pipeline.
func stagesChart(r *results) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Where a typical job's time goes (p50 ms per stage, stacked)"
	p.Y.Label.Text = "ms"
	p.Legend.Top = true
	phases := r.phases()
	labels := make([]string, len(phases))
	for i, ph := range phases {
		labels[i] = ph.Name
		if ph.InFlight == 0 {
			labels[i] += " (less queue wait)"
		}
	}
	colors := []color.Color{grey, orange, blue, green, red, purple, plotutil.Color(6)}
	var below *plotter.BarChart
	for si, name := range stageNames {
		vals := make(plotter.Values, len(phases))
		for i, ph := range phases {
			if name == "queue_wait" && ph.InFlight == 0 {
				continue
			}
			vals[i] = math.Max(0, ph.Stages[name].P50)
		}
		bars, err := plotter.NewBarChart(vals, vg.Points(60))
		if err != nil {
			return nil, err
		}
		bars.Color = colors[si%len(colors)]
		bars.LineStyle.Width = 0
		if below != nil {
			bars.StackOn(below)
		}
		p.Add(bars)
		p.Legend.Add(name, bars)
		below = bars
	}
	p.NominalX(labels...)
	p.X.Min, p.X.Max = -0.6, float64(len(phases))+0.6 // room for the legend
	return p, nil
}
