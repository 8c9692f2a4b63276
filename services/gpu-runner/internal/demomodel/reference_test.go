package demomodel

import "math"

// forward is a plain-Go evaluation of the graph built by buildGraph, used to
// check picture quality without ONNX Runtime. It returns [w*h*3] in [0,1] for
// one latent on a w×h grid.
func forward(wt weights, latent []float32, w, h int) []float32 {
	const H = HiddenSize
	hz := make([]float64, H)
	for j := range H {
		s := float64(wt.biasIn[j])
		for k := range LatentSize {
			s += float64(latent[k]) * float64(wt.latent[k*H+j])
		}
		hz[j] = s
	}
	out := make([]float32, 0, w*h*3)
	cur, next := make([]float64, H), make([]float64, H)
	for _, c := range gridCoords(w, h) {
		for j := range H {
			s := hz[j]
			for k := range 3 {
				s += float64(c[k]) * float64(wt.coords[k*H+j])
			}
			cur[j] = math.Tanh(s)
		}
		for l, act := range hiddenActivations {
			for j := range H {
				s := float64(wt.biasHid[l][j])
				for k := range H {
					s += cur[k] * float64(wt.hidden[l][k*H+j])
				}
				if act == "Sin" {
					next[j] = math.Sin(s)
				} else {
					next[j] = math.Tanh(s)
				}
			}
			cur, next = next, cur
		}
		for j := range 3 {
			s := float64(wt.biasOut[j])
			for k := range H {
				s += cur[k] * float64(wt.out[k*3+j])
			}
			out = append(out, float32(1/(1+math.Exp(-s))))
		}
	}
	return out
}

// gridCoords returns (x, y, r) rows for a w×h image, row-major, x and y
// spanning [-1,1] at pixel centres.
func gridCoords(w, h int) [][3]float32 {
	rows := make([][3]float32, 0, w*h)
	for py := range h {
		y := 2*(float64(py)+0.5)/float64(h) - 1
		for px := range w {
			x := 2*(float64(px)+0.5)/float64(w) - 1
			rows = append(rows, [3]float32{float32(x), float32(y), float32(math.Hypot(x, y))})
		}
	}
	return rows
}
