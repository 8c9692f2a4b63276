package worker

import (
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
)

// These tests run in synctest bubbles: the intervals' timers fire as soon
// as every goroutine of the test is blocked, so each test says exactly
// when an event goes out, in no real time.

// published collects events in the order they went out.
type published struct {
	mu     sync.Mutex
	events []string
}

func (p *published) publish(e bus.ProgressEvent) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(p.events, string(e.Status)+":"+string(rune('0'+e.Step)))
}

func (p *published) get() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.events...)
}

// expect fails unless the published events are want.
func (p *published) expect(t *testing.T, want []string, when string) {
	t.Helper()
	if got := p.get(); !slices.Equal(got, want) {
		t.Fatalf("%s: published %v, want %v", when, got, want)
	}
}

// advance moves the bubble's clock by d, firing the timers due meanwhile,
// and returns once every goroutine of the bubble is blocked again.
func advance(d time.Duration) {
	<-time.After(d)
	synctest.Wait()
}

// inBubble runs f in a synctest bubble with a delivery's events coalesced
// over interval and what they published.
func inBubble(t *testing.T, interval time.Duration, f func(t *testing.T, pe *progressEvents, out *published)) {
	synctest.Test(t, func(t *testing.T) { f(t, &progressEvents{interval: interval}, &published{}) })
}

func ev(status string, step int) bus.ProgressEvent {
	return bus.ProgressEvent{JobID: "j", Status: job.Status(status), Step: step, TotalSteps: 9}
}

func one(status string, step int) bus.ProgressEvent {
	return bus.ProgressEvent{JobID: "j", Status: job.Status(status), Step: step, TotalSteps: 1}
}

func TestStepEventsWithinTheIntervalAreCoalescedToTheLatest(t *testing.T) {
	inBubble(t, 80*time.Millisecond, func(t *testing.T, pe *progressEvents, out *published) {
		pe.begin(ev("processing", 0), out.publish)
		pe.step(ev("processing", 1), out.publish)
		advance(10 * time.Millisecond)
		pe.step(ev("processing", 2), out.publish)
		pe.step(ev("processing", 3), out.publish)
		out.expect(t, []string{"processing:0", "processing:1"}, "within the interval (the start just before the first step)")
		advance(69 * time.Millisecond)
		out.expect(t, []string{"processing:0", "processing:1"}, "a moment before the interval ends")
		// The latest step goes out when the interval ends, without any later
		// event to push it: a job hung after step 3 still shows step 3.
		advance(time.Millisecond)
		out.expect(t, []string{"processing:0", "processing:1", "processing:3"}, "when the interval ended")
		advance(80 * time.Millisecond)
		// A step after a quiet interval goes out at once.
		pe.step(ev("processing", 4), out.publish)
		out.expect(t, []string{"processing:0", "processing:1", "processing:3", "processing:4"}, "after a quiet interval")
		pe.close()
	})
}

// The only step of a 1-step job is also its last: completion follows it
// within moments, so it is held, and the completion replaces it; the start
// is held too, so a job that ends within the interval publishes its end
// only.
func TestAJobThatEndsWithinTheIntervalPublishesItsEndOnly(t *testing.T) {
	inBubble(t, 80*time.Millisecond, func(t *testing.T, pe *progressEvents, out *published) {
		pe.begin(one("processing", 0), out.publish)
		advance(40 * time.Millisecond)
		pe.step(one("processing", 1), out.publish)
		pe.now(one("completed", 1), out.publish)
		pe.close()
		advance(time.Second)
		out.expect(t, []string{"completed:1"}, "a second after the end")
	})
}

// A job that runs longer than the interval shows it started when the
// interval ends, even with no step to show (hung before its first step,
// or a 1-step job whose only step is also its last).
func TestAStartGoesOutWhenTheIntervalEnds(t *testing.T) {
	inBubble(t, 50*time.Millisecond, func(t *testing.T, pe *progressEvents, out *published) {
		pe.begin(one("processing", 0), out.publish)
		advance(49 * time.Millisecond)
		out.expect(t, nil, "within the interval (the start held)")
		advance(time.Millisecond)
		out.expect(t, []string{"processing:0"}, "when the interval ended")
		pe.step(one("processing", 1), out.publish)
		pe.now(one("completed", 1), out.publish)
		pe.close()
		advance(time.Second)
		out.expect(t, []string{"processing:0", "completed:1"}, "a second after the end")
	})
}

// A last step held with the start goes out right after it when the
// interval ends: the latest step always reaches watchers.
func TestAHeldStartAndStepGoOutTogetherInOrder(t *testing.T) {
	inBubble(t, 50*time.Millisecond, func(t *testing.T, pe *progressEvents, out *published) {
		pe.begin(one("processing", 0), out.publish)
		pe.step(one("processing", 1), out.publish)
		advance(49 * time.Millisecond)
		out.expect(t, nil, "within the interval")
		advance(time.Millisecond)
		out.expect(t, []string{"processing:0", "processing:1"}, "when the interval ended")
		pe.close()
	})
}

// A delivery that ends within the interval with no event of its own
// (taken away, handed back) publishes nothing, not a late start.
func TestAnEndedDeliveryPublishesNoHeldStart(t *testing.T) {
	inBubble(t, 30*time.Millisecond, func(t *testing.T, pe *progressEvents, out *published) {
		pe.begin(ev("processing", 0), out.publish)
		advance(20 * time.Millisecond)
		pe.close()
		advance(time.Second)
		out.expect(t, nil, "a second after the delivery ended")
	})
}

// holdStep2 begins a delivery and tells steps 1 and 2 within the 50 ms
// window: step 1 goes out, step 2 is held.
func holdStep2(pe *progressEvents, out *published) {
	pe.begin(ev("processing", 0), out.publish)
	pe.step(ev("processing", 1), out.publish)
	pe.step(ev("processing", 2), out.publish)
	advance(20 * time.Millisecond)
}

func TestAFinalEventSupersedesAHeldStep(t *testing.T) {
	inBubble(t, 50*time.Millisecond, func(t *testing.T, pe *progressEvents, out *published) {
		holdStep2(pe, out)
		pe.now(ev("completed", 9), out.publish)
		pe.close()
		advance(time.Second)
		out.expect(t, []string{"processing:0", "processing:1", "completed:9"}, "the held step 2 replaced by the completion")
	})
}

func TestAnEndedDeliveryPublishesNoHeldStep(t *testing.T) {
	inBubble(t, 50*time.Millisecond, func(t *testing.T, pe *progressEvents, out *published) {
		holdStep2(pe, out)
		pe.close() // taken away: no final event of its own
		pe.step(ev("processing", 3), out.publish)
		advance(time.Second)
		out.expect(t, []string{"processing:0", "processing:1"}, "a second after the delivery ended")
	})
}

func TestANegativeIntervalPublishesEveryStep(t *testing.T) {
	var out published
	pe := progressEvents{interval: -1}
	pe.begin(ev("processing", 0), out.publish)
	out.expect(t, []string{"processing:0"}, "the start at once")
	for s := 1; s <= 3; s++ {
		pe.step(ev("processing", s), out.publish)
	}
	out.expect(t, []string{"processing:0", "processing:1", "processing:2", "processing:3"}, "every step at once")
}
