package worker

import (
	"sync"
	"time"

	"go.uber.org/zap"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
)

// DefaultStepEventInterval is how often at most a job's per-step progress
// is published after its first step. Watchers (the console, the
// supervisor's stall rules, `nats sub`) need the latest state within a
// moment, not every step: a job that ends within the interval of its start
// publishes its end only, and a 50-step job on a fast GPU its start and
// first step, then about ten events a second.
const DefaultStepEventInterval = 100 * time.Millisecond

// progressEvents coalesces one delivery's events. The start ("processing"
// at step 0, once the claim is written) is held for the interval: a job
// that ends within it publishes only its end, and the start goes out when
// the interval ends or just before a step event that goes out earlier, so
// watchers of a longer job see it start, then move. A job's first step
// event goes out at once (watchers see it move), unless it is also its
// last, which completion usually follows within moments; after that, a
// step event goes out at once after a quiet interval, and a step within the
// interval is held and goes out when the interval ends, unless a later
// event supersedes it first. So the latest step always reaches watchers (a
// job hung after its last step still shows that step) and the final events
// (completed, failed, retrying) are never held or dropped. The zero value
// holds nothing.
type progressEvents struct {
	interval time.Duration

	mu        sync.Mutex
	last      time.Time          // when the latest event went out
	sentSteps bool               // a step event went out
	start     *bus.ProgressEvent // the start, not out yet
	held      *bus.ProgressEvent
	timer     *time.Timer // releases the start and the held step
	closed    bool
	publish   func(bus.ProgressEvent)

	// unclaimed: the delivery's model runs while its claim is still being
	// written, so its steps wait (the latest as early) until the claim's
	// own event has gone out; a claim that fails drops them.
	unclaimed bool
	early     *earlyStep
}

// earlyStep is the latest step a delivery reached before its claim was
// written.
type earlyStep struct{ step, total int }

// holdUntilClaimed makes step events wait for claimed.
func (p *progressEvents) holdUntilClaimed() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.unclaimed = true
}

// holdEarly keeps a step that came before the claim, and reports whether
// it did.
func (p *progressEvents) holdEarly(step, total int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.unclaimed {
		return false
	}
	p.early = &earlyStep{step, total}
	return true
}

// claimed lets step events through, starting with the latest early one,
// built by event and coalesced as any step. It runs under the lock that
// holdEarly takes, so an early step never goes out after a later one.
func (p *progressEvents) claimed(event func(step, total int) bus.ProgressEvent, publish func(bus.ProgressEvent)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.unclaimed = false
	if e := p.early; e != nil && !p.closed {
		p.early = nil
		p.stepLocked(event(e.step, e.total), publish)
	}
}

// begin holds a delivery's start for the interval (publishes it at once
// when events are not coalesced).
func (p *progressEvents) begin(e bus.ProgressEvent, publish func(bus.ProgressEvent)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.dropHeld()
	p.last = time.Now()
	if p.interval <= 0 {
		publish(e)
		return
	}
	p.start, p.publish = &e, publish
	p.timer = time.AfterFunc(p.interval, p.release)
}

// step publishes a step event now or holds it for the rest of the
// interval.
func (p *progressEvents) step(e bus.ProgressEvent, publish func(bus.ProgressEvent)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stepLocked(e, publish)
}

func (p *progressEvents) stepLocked(e bus.ProgressEvent, publish func(bus.ProgressEvent)) {
	if p.closed {
		return
	}
	now := time.Now()
	first := !p.sentSteps && e.Step < e.TotalSteps
	if first || (p.held == nil && now.Sub(p.last) >= p.interval) {
		p.flushStart(publish)
		p.dropHeld()
		p.last, p.sentSteps = now, true
		publish(e)
		return
	}
	p.held, p.publish = &e, publish
	if p.timer == nil {
		p.timer = time.AfterFunc(p.interval-now.Sub(p.last), p.release)
	}
}

// now publishes an event that is never held; a held start or step is
// older and superseded by it.
func (p *progressEvents) now(e bus.ProgressEvent, publish func(bus.ProgressEvent)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dropHeld()
	p.last = time.Now()
	publish(e)
}

// release publishes the held start, then the held step, when the interval
// ends.
func (p *progressEvents) release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.timer = nil
	if p.closed || (p.start == nil && p.held == nil) {
		return
	}
	p.flushStart(p.publish)
	if p.held != nil {
		e := *p.held
		p.held = nil
		p.sentSteps = true
		p.publish(e)
	}
	p.last = time.Now()
}

// flushStart publishes the held start, if any, ahead of what follows it.
func (p *progressEvents) flushStart(publish func(bus.ProgressEvent)) {
	if p.start != nil {
		publish(*p.start)
		p.start = nil
	}
}

// close drops a held start or step: the delivery has ended, and its final event (if
// it had one) is out.
func (p *progressEvents) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	p.early = nil
	p.dropHeld()
}

// dropHeld drops the held start and step and their timer.
func (p *progressEvents) dropHeld() {
	p.start, p.held = nil, nil
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
}

// emit publishes a progress event; losing one is harmless. Plain steps
// (processing, step n, no message) are coalesced per delivery.
func (w *Worker) emit(d *delivery, status job.Status, step, total int, message string) {
	e := w.event(d, status, step, total, message)
	if status == job.StatusProcessing && step > 0 && message == "" {
		d.events.step(e, w.publishEvent)
		return
	}
	d.events.now(e, w.publishEvent)
}

// emitStart announces that a delivery's run has begun (its claim is
// written): "processing" at step 0, held as begin says.
func (w *Worker) emitStart(d *delivery) {
	d.events.begin(w.event(d, job.StatusProcessing, 0, d.spec.Steps, ""), w.publishEvent)
}

// emitStep publishes a running delivery's step event, or keeps it for its
// claim while that is still being written.
func (w *Worker) emitStep(d *delivery, step, total int) {
	d.reached.Store(int64(step)<<32 | int64(uint32(total)))
	if d.events.holdEarly(step, total) {
		return // reading d.attempt now would race with the claim
	}
	w.emit(d, job.StatusProcessing, step, total, "")
}

// claimedEvents: the claim's own event is out; step events may follow.
func (w *Worker) claimedEvents(d *delivery) {
	d.events.claimed(func(step, total int) bus.ProgressEvent {
		return w.event(d, job.StatusProcessing, step, total, "")
	}, w.publishEvent)
}

func (w *Worker) event(d *delivery, status job.Status, step, total int, message string) bus.ProgressEvent {
	return bus.ProgressEvent{
		JobID: d.work.JobID, Status: status, Step: step, TotalSteps: total,
		Runner: w.p.Runner, Attempt: d.attempt, Delivery: d.id.Token(), At: w.p.Clock().UTC(), Message: message,
	}
}

// sendEvent publishes one progress event on its job's subject.
func (w *Worker) sendEvent(e bus.ProgressEvent) {
	if err := w.p.NC.Publish(bus.EventSubject(e.JobID), bus.EncodeProgressEvent(e)); err != nil {
		w.log.Debug("progress event", zap.String("job_id", e.JobID), zap.Error(err))
	}
}
