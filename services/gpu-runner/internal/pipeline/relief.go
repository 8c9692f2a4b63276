package pipeline

import (
	"runtime/debug"
	"sync"
	"time"

	"cyberimage/services/gpu-runner/internal/ort"
)

// reliefThreshold is the job estimate from which memory is handed back
// after the job. Below it the Go runtime's own scavenger returns the little
// there is soon enough, and a forced collection per small job (the memory
// benchmark runs thousands) would cost more than it frees.
const reliefThreshold = 128 << 20

// reliefAfter are the waits, each after the previous round, at which memory
// is handed back after a large job's inference: at once (the run buffers),
// then every second or two for about 12 s. The pipeline does not see when
// the worker lets go of the images (after encoding and upload, seconds
// later, longer for big jobs), so it keeps trying for a while; a forced
// collection of an idle runner's small heap takes about a millisecond.
var reliefAfter = []time.Duration{0, time.Second, time.Second, time.Second, time.Second, 2 * time.Second, 2 * time.Second, 4 * time.Second}

// relief gives a runner's memory back to the OS after a large job, so the
// next hour of small jobs does not sit on the last big one's peak: the Go
// heap keeps freed pages until its scavenger gets round to them, and a
// runner that allocates little runs its collector rarely (the images of a
// 2048×2048×8 job are 100 MB of garbage nobody collects). ORT's freed
// buffers go back through ort.ReleaseMemory.
type relief struct {
	free   func()
	delays []time.Duration

	mu     sync.Mutex
	round  uint64 // bumped per large job: a newer job's rounds replace older ones
	closed bool
	stop   chan struct{}
	wg     sync.WaitGroup
}

func newRelief(free func(), delays []time.Duration) *relief {
	if free == nil {
		free = func() {
			debug.FreeOSMemory()
			ort.ReleaseMemory()
		}
	}
	return &relief{free: free, delays: delays, stop: make(chan struct{})}
}

// after is called when a job of the given estimate has finished inference.
func (r *relief) after(estimate int64) {
	if estimate < reliefThreshold {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.round++
	round := r.round
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for _, d := range r.delays {
			t := time.NewTimer(d)
			select {
			case <-r.stop:
				t.Stop()
				return
			case <-t.C:
			}
			r.mu.Lock()
			current := r.round == round
			r.mu.Unlock()
			if !current {
				return
			}
			r.free()
		}
	}()
}

// close stops pending rounds and waits for them.
func (r *relief) close() {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		close(r.stop)
	}
	r.mu.Unlock()
	r.wg.Wait()
}
