package worker

import (
	"slices"
	"sync"
	"testing"
	"time"

	"cyberimage/shared/bus"
)

// published collects events in the order they went out.
type published struct {
	mu     sync.Mutex
	events []string
}

func (p *published) publish(e bus.ProgressEvent) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(p.events, e.Status+":"+string(rune('0'+e.Step)))
}

func (p *published) get() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.events...)
}

func ev(status string, step int) bus.ProgressEvent {
	return bus.ProgressEvent{JobID: "j", Status: status, Step: step, TotalSteps: 9}
}

// waitFor polls until the published events equal want, or fails.
func waitFor(t *testing.T, p *published, want []string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !slices.Equal(p.get(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("published %v, want %v", p.get(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestStepEventsWithinTheIntervalAreCoalescedToTheLatest(t *testing.T) {
	var out published
	pe := progressEvents{interval: 80 * time.Millisecond}
	pe.begin(ev("processing", 0), out.publish)
	pe.step(ev("processing", 1), out.publish)
	pe.step(ev("processing", 2), out.publish)
	pe.step(ev("processing", 3), out.publish)
	if got := out.get(); !slices.Equal(got, []string{"processing:0", "processing:1"}) {
		t.Fatalf("within the interval: published %v, want the start (just before) and the first step", got)
	}
	// The latest step goes out when the interval ends, without any later
	// event to push it: a job hung after step 3 still shows step 3.
	waitFor(t, &out, []string{"processing:0", "processing:1", "processing:3"}, 2*time.Second)
	time.Sleep(120 * time.Millisecond)
	// A step after a quiet interval goes out at once.
	pe.step(ev("processing", 4), out.publish)
	if got := out.get(); !slices.Equal(got, []string{"processing:0", "processing:1", "processing:3", "processing:4"}) {
		t.Fatalf("after a quiet interval: published %v", got)
	}
}

// The only step of a 1-step job is also its last: completion follows it
// within moments, so it is held, and the completion replaces it; the start
// is held too, so a job that ends within the interval publishes its end
// only.
func TestAJobThatEndsWithinTheIntervalPublishesItsEndOnly(t *testing.T) {
	var out published
	pe := progressEvents{interval: 80 * time.Millisecond}
	pe.begin(one("processing", 0), out.publish)
	pe.step(one("processing", 1), out.publish)
	pe.now(one("completed", 1), out.publish)
	pe.close()
	time.Sleep(150 * time.Millisecond)
	if got := out.get(); !slices.Equal(got, []string{"completed:1"}) {
		t.Fatalf("published %v", got)
	}
}

// A job that runs longer than the interval shows it started when the
// interval ends, even with no step to show (hung before its first step,
// or a 1-step job whose only step is also its last).
func TestAStartGoesOutWhenTheIntervalEnds(t *testing.T) {
	var out published
	pe := progressEvents{interval: 50 * time.Millisecond}
	pe.begin(one("processing", 0), out.publish)
	if got := out.get(); len(got) != 0 {
		t.Fatalf("published %v at once, want the start held", got)
	}
	waitFor(t, &out, []string{"processing:0"}, 2*time.Second)
	pe.step(one("processing", 1), out.publish)
	pe.now(one("completed", 1), out.publish)
	pe.close()
	time.Sleep(100 * time.Millisecond)
	if got := out.get(); !slices.Equal(got, []string{"processing:0", "completed:1"}) {
		t.Fatalf("published %v", got)
	}
}

// A last step held with the start goes out right after it when the
// interval ends: the latest step always reaches watchers.
func TestAHeldStartAndStepGoOutTogetherInOrder(t *testing.T) {
	var out published
	pe := progressEvents{interval: 50 * time.Millisecond}
	pe.begin(one("processing", 0), out.publish)
	pe.step(one("processing", 1), out.publish)
	waitFor(t, &out, []string{"processing:0", "processing:1"}, 2*time.Second)
}

// A delivery that ends within the interval with no event of its own
// (taken away, handed back) publishes nothing, not a late start.
func TestAnEndedDeliveryPublishesNoHeldStart(t *testing.T) {
	var out published
	pe := progressEvents{interval: 30 * time.Millisecond}
	pe.begin(ev("processing", 0), out.publish)
	pe.close()
	time.Sleep(100 * time.Millisecond)
	if got := out.get(); len(got) != 0 {
		t.Fatalf("published %v after the delivery ended", got)
	}
}

func one(status string, step int) bus.ProgressEvent {
	return bus.ProgressEvent{JobID: "j", Status: status, Step: step, TotalSteps: 1}
}

func TestAFinalEventSupersedesAHeldStep(t *testing.T) {
	var out published
	pe := progressEvents{interval: 50 * time.Millisecond}
	pe.begin(ev("processing", 0), out.publish)
	pe.step(ev("processing", 1), out.publish)
	pe.step(ev("processing", 2), out.publish)
	pe.now(ev("completed", 9), out.publish)
	pe.close()
	time.Sleep(150 * time.Millisecond)
	if got := out.get(); !slices.Equal(got, []string{"processing:0", "processing:1", "completed:9"}) {
		t.Fatalf("published %v, want the held step 2 replaced by the completion", got)
	}
}

func TestAnEndedDeliveryPublishesNoHeldStep(t *testing.T) {
	var out published
	pe := progressEvents{interval: 50 * time.Millisecond}
	pe.begin(ev("processing", 0), out.publish)
	pe.step(ev("processing", 1), out.publish)
	pe.step(ev("processing", 2), out.publish)
	pe.close() // taken away: no final event of its own
	pe.step(ev("processing", 3), out.publish)
	time.Sleep(150 * time.Millisecond)
	if got := out.get(); !slices.Equal(got, []string{"processing:0", "processing:1"}) {
		t.Fatalf("published %v after the delivery ended", got)
	}
}

func TestANegativeIntervalPublishesEveryStep(t *testing.T) {
	var out published
	pe := progressEvents{interval: -1}
	pe.begin(ev("processing", 0), out.publish)
	if got := out.get(); !slices.Equal(got, []string{"processing:0"}) {
		t.Fatalf("published %v, want the start at once", got)
	}
	for s := 1; s <= 3; s++ {
		pe.step(ev("processing", s), out.publish)
	}
	if got := out.get(); !slices.Equal(got, []string{"processing:0", "processing:1", "processing:2", "processing:3"}) {
		t.Fatalf("published %v", got)
	}
}
