package main

import (
	"encoding/json"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go"

	"cyberimage/shared/bus"
)

// progressLog counts the runners' progress events of this run's jobs and
// keeps the last one of each delivery. Events are best effort by contract
// ("losing one is harmless"), so they feed figures and details, never a
// check.
type progressLog struct {
	sub *nats.Subscription

	mu    sync.Mutex
	count map[string]int               // by job id, for expected jobs only
	last  map[string]bus.ProgressEvent // by job id and delivery token
}

func subscribeProgress(nc *nats.Conn) (*progressLog, error) {
	p := &progressLog{count: map[string]int{}, last: map[string]bus.ProgressEvent{}}
	sub, err := nc.Subscribe(bus.SubjectEventsAll, func(m *nats.Msg) {
		var e bus.ProgressEvent
		if json.Unmarshal(m.Data, &e) != nil || e.JobID == "" {
			return
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if _, ours := p.count[e.JobID]; !ours {
			return // another client's job: not kept, so memory stays bounded
		}
		p.count[e.JobID]++
		p.last[e.JobID+" "+e.Delivery] = e
	})
	if err != nil {
		return nil, fmt.Errorf("subscribe %s: %w", bus.SubjectEventsAll, err)
	}
	// Runners emit a burst per step; a slow consumer must not drop us.
	_ = sub.SetPendingLimits(-1, -1)
	p.sub = sub
	return p, nil
}

func (p *progressLog) stop() { _ = p.sub.Unsubscribe() }

// expect registers job ids before their requests are published; only their
// events are kept.
func (p *progressLog) expect(ids ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, id := range ids {
		if _, ok := p.count[id]; !ok {
			p.count[id] = 0
		}
	}
}

// seen returns the events received for the jobs and how many jobs had any.
func (p *progressLog) seen(ids []string) (events, jobs int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, id := range ids {
		if n := p.count[id]; n > 0 {
			events += n
			jobs++
		}
	}
	return events, jobs
}

// lastOf returns the last event of one delivery of a job.
func (p *progressLog) lastOf(jobID, delivery string) (bus.ProgressEvent, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.last[jobID+" "+delivery]
	return e, ok
}
