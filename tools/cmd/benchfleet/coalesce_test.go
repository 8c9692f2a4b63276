package main

import (
	"testing"
	"testing/synctest"
	"time"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
)

type sent struct {
	step int
	at   time.Duration
}

// record returns a stepEvents that notes each event's step (-1 for the
// completion) and moment since began.
func record(began time.Time, out *[]sent) *stepEvents {
	return &stepEvents{interval: 100 * time.Millisecond, send: func(e bus.ProgressEvent) {
		step := e.Step
		if e.Status == job.StatusCompleted {
			step = -1
		}
		*out = append(*out, sent{step, time.Since(began)})
	}}
}

func ev(status job.Status, step int) bus.ProgressEvent {
	return bus.ProgressEvent{JobID: "j", Status: status, Step: step, TotalSteps: 50}
}

// The runner's rule: the first step goes out at once, after the held
// start; steps within the interval after it are held and only the latest
// goes out when the interval ends; the completion goes out at once.
func TestStepEventsCoalesceAsTheRunnerDoes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var got []sent
		s := record(time.Now(), &got)
		s.begin(ev(job.StatusProcessing, 0))
		for step := 1; step <= 5; step++ {
			time.Sleep(20 * time.Millisecond)
			s.step(ev(job.StatusProcessing, step))
		}
		time.Sleep(50 * time.Millisecond)
		s.final(ev(job.StatusCompleted, 50))
		time.Sleep(time.Second)
		want := []sent{{0, 20 * time.Millisecond}, {1, 20 * time.Millisecond}, {5, 120 * time.Millisecond}, {-1, 150 * time.Millisecond}}
		if len(got) != len(want) {
			t.Fatalf("sent %v, want %v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("sent %v, want %v", got, want)
			}
		}
	})
}

// A job that ends within the interval of its start sends only its end.
func TestStepEventsShortJobSendsOnlyItsEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var got []sent
		s := record(time.Now(), &got)
		s.begin(ev(job.StatusProcessing, 0))
		time.Sleep(50 * time.Millisecond)
		s.final(ev(job.StatusCompleted, 50))
		time.Sleep(time.Second)
		if len(got) != 1 || got[0].step != -1 {
			t.Fatalf("sent %v, want the completion alone", got)
		}
	})
}
