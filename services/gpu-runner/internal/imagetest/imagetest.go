// Package imagetest holds the statistics the runner's tests use to tell a
// real picture from a flat or a repeated one. Only tests import it.
package imagetest

import "math"

// Sample is a pixel channel as the runner's tests see one: a model's
// float output or an encoded 8-bit value.
type Sample interface{ ~float32 | ~uint8 }

// StdDev is the population standard deviation of v: near zero for a flat
// picture.
func StdDev[T Sample](v []T) float64 {
	var sum, sq float64
	for _, x := range v {
		sum += float64(x)
		sq += float64(x) * float64(x)
	}
	n := float64(len(v))
	return math.Sqrt(sq/n - (sum/n)*(sum/n))
}

// MeanAbsDiff is the mean absolute difference of two pictures of the same
// size: near zero when they are (almost) the same picture.
func MeanAbsDiff[T Sample](a, b []T) float64 {
	var d float64
	for i := range a {
		d += math.Abs(float64(a[i]) - float64(b[i]))
	}
	return d / float64(len(a))
}
