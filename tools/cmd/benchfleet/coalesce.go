package main

import (
	"sync"
	"time"

	"cyberimage/shared/bus"
)

// stepEvents sends one delivery's progress events by the runner's
// coalescing rule (gpu-runner worker/progress.go, which tools may not
// import): the start ("processing", step 0) is held for one interval and
// dropped if anything goes out first; the first step goes out at once;
// later steps go out at once after a quiet interval, otherwise the latest
// is held until the interval ends; final events go out at once and drop
// whatever is held. So a job sends at most one event per interval.
type stepEvents struct {
	interval time.Duration
	send     func(bus.ProgressEvent)

	mu          sync.Mutex
	last        time.Time
	stepsSent   bool
	start, held *bus.ProgressEvent
	timer       *time.Timer
	closed      bool
}

// begin holds the start for one interval.
func (s *stepEvents) begin(e bus.ProgressEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last, s.start = time.Now(), &e
	s.timer = time.AfterFunc(s.interval, s.release)
}

// step sends a step now or holds it for the rest of the interval.
func (s *stepEvents) step(e bus.ProgressEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	now := time.Now()
	if (!s.stepsSent && e.Step < e.TotalSteps) || (s.held == nil && now.Sub(s.last) >= s.interval) {
		if s.start != nil {
			s.send(*s.start)
		}
		s.drop()
		s.last, s.stepsSent = now, true
		s.send(e)
		return
	}
	s.held = &e
	if s.timer == nil {
		s.timer = time.AfterFunc(s.interval-now.Sub(s.last), s.release)
	}
}

// final sends an event that is never held and ends the delivery's events.
func (s *stepEvents) final(e bus.ProgressEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drop()
	s.closed = true
	s.send(e)
}

// close drops what is held: the delivery ended without a final event.
func (s *stepEvents) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drop()
	s.closed = true
}

// release sends the held start, then the held step, when the interval ends.
func (s *stepEvents) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.timer = nil
	if s.closed {
		return
	}
	if s.start != nil {
		s.send(*s.start)
		s.start = nil
	}
	if s.held != nil {
		s.send(*s.held)
		s.held, s.stepsSent = nil, true
	}
	s.last = time.Now()
}

func (s *stepEvents) drop() {
	s.start, s.held = nil, nil
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
}
