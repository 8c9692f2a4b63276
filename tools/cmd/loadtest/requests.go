package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"cyberimage/shared/job"
)

// request is what the load tests publish: the contract's request fields
// they use, no more.
type request struct {
	Prompt    string `json:"prompt"`
	Width     int    `json:"width"`
	Height    int    `json:"height"`
	NumImages int    `json:"num_images"`
	RequestID string `json:"request_id,omitempty"`
}

func (r request) payload() []byte {
	b, _ := json.Marshal(r) // strings and ints: cannot fail
	return b
}

// jobID is the job this request names, by the contract's rule for
// request_id.
func (r request) jobID() string { return job.IDForRequestID(r.RequestID) }

// newRunID names one run of the tool; every request_id starts with it, so a
// rerun against the same stack never collides with an earlier one.
func newRunID() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return "lt" + strconv.FormatInt(time.Now().Unix(), 36) + hex.EncodeToString(b[:])
}

// Small mixed sizes: enough variety to interleave short and longer jobs
// without making a CPU-only stack crawl.
var (
	widths  = []int{64, 96, 128, 192}
	heights = []int{64, 128, 96}
)

var subjects = []string{"neon koi pond at dusk", "rain on a chrome skyline", "holographic market stall",
	"synthwave desert highway", "circuit-board forest", "glitching aurora over a harbour"}

// ordinaryPrompt is the prompt of job i of a load or chaos test. It never
// contains the hang marker (options checks that).
func ordinaryPrompt(kind string, i int) string {
	return fmt.Sprintf("%s, %s job %d", subjects[i%len(subjects)], kind, i)
}

// ordinaryRequest is job i of a load or chaos test in run.
func ordinaryRequest(run, kind string, i int) request {
	return request{
		Prompt:    ordinaryPrompt(kind, i),
		Width:     widths[i%len(widths)],
		Height:    heights[i%len(heights)],
		NumImages: 1 + i%3,
		RequestID: fmt.Sprintf("%s-%s-%d", run, kind, i),
	}
}

// stallRequest is stall probe i: the smallest job, with the hang marker.
func stallRequest(run, marker string, round, i int) request {
	return request{
		Prompt:    fmt.Sprintf("stall probe %d.%d %s", round, i, marker),
		Width:     64,
		Height:    64,
		NumImages: 1,
		RequestID: fmt.Sprintf("%s-stall-%d-%d", run, round, i),
	}
}
