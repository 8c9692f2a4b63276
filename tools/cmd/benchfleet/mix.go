package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// The job mix: most jobs take about 10 s of model time (5-20 s, log-normal
// around 10 s) and make one image; longJobShare of them are long
// multi-image jobs of 30-60 s and four images. Every job has the same
// number of steps, so a short job sends its step events faster (the
// coalescing rule caps them at ten a second).
const (
	longJobShare  = 0.15
	longJobImages = 4
)

// jobShape is what the emulated model does for one job.
type jobShape struct {
	modelTime time.Duration
	images    int
}

// drawJob draws one job of the mix.
func drawJob(rng *rand.Rand) jobShape {
	if rng.Float64() < longJobShare {
		return jobShape{modelTime: time.Duration((30 + 30*rng.Float64()) * float64(time.Second)), images: longJobImages}
	}
	s := math.Exp(math.Log(10) + 0.35*rng.NormFloat64())
	return jobShape{modelTime: time.Duration(min(max(s, 5), 20) * float64(time.Second)), images: 1}
}

// meanModelTime is the mix's mean job time, drawn from many jobs, which
// sets the rate that keeps a share of the slots busy.
func meanModelTime() time.Duration {
	rng := rand.New(rand.NewPCG(1, 1))
	var sum time.Duration
	const n = 100000
	for range n {
		sum += drawJob(rng).modelTime
	}
	return sum / n
}

// The prompt carries the job's shape to the emulated runner ("fleet
// 12345ms"): it travels in the work message as a real prompt does.
const promptPrefix = "fleet "

func shapePrompt(s jobShape) string {
	return fmt.Sprintf("%s%dms", promptPrefix, s.modelTime.Milliseconds())
}

// shapeOf reads a job's model time back from its prompt; a prompt from
// elsewhere runs for 10 s.
func shapeOf(prompt string) time.Duration {
	ms, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(prompt, promptPrefix), "ms"))
	if err != nil || ms <= 0 {
		return 10 * time.Second
	}
	return time.Duration(ms) * time.Millisecond
}
