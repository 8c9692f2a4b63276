package index

import (
	"time"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
)

// ClientFigures are one client's use, beside the limits quotas set on it
// (ingest enforces them; these figures are what an operator sees).
type ClientFigures struct {
	// Queued and Running are its jobs in flight now.
	Queued, Running int
	// AcceptedLastMinute counts its jobs accepted (created, rejected
	// requests aside) in the last 60 seconds.
	AcceptedLastMinute int
}

// Clients returns the figures of every client with a job in flight or
// one accepted in the last minute: O(clients), never O(jobs) (the
// in-flight counts are kept change by change, see inFlightByClient).
func (x *Index) Clients(now time.Time) map[string]ClientFigures {
	x.mu.RLock()
	defer x.mu.RUnlock()
	out := make(map[string]ClientFigures, len(x.st.clients))
	for name, c := range x.st.clients {
		out[name] = ClientFigures{Queued: c.queued, Running: c.running}
	}
	for name, secs := range x.st.accepted.byClient {
		if n := secs.sum(now); n > 0 {
			f := out[name]
			f.AcceptedLastMinute = n
			out[name] = f
		}
	}
	return out
}

// inFlight is one client's jobs in the in-flight view: all of them (a
// client with any is listed, whatever their status), and how many are
// queued and running.
type inFlight struct {
	jobs, queued, running int
}

// inFlightByClient mirrors the in-flight view, counted per client: it
// changes exactly where that view does (state.hold and state.drop), so
// its figures are the view's, and a client leaves it with its last job.
type inFlightByClient map[string]inFlight

// count adds n (or, negative, removes) in-flight entries like e.
func (m inFlightByClient) count(e Entry, n int) {
	name := bus.RecordClient(e.Client)
	c := m[name]
	c.jobs += n
	switch e.Status {
	case job.StatusQueued:
		c.queued += n
	case job.StatusProcessing:
		c.running += n
	}
	if c.jobs == 0 {
		delete(m, name)
	} else {
		m[name] = c
	}
}

// acceptedAt is when a job was accepted: its creation, as ingest stamped
// it (so a view rebuilt from the bucket counts the last minute right),
// or when the server stored the record if that is missing.
func acceptedAt(rec job.Record, stored time.Time) time.Time {
	if rec.CreatedAt.IsZero() {
		return stored
	}
	return rec.CreatedAt
}

// The acceptance counts are kept per second over one minute, per client:
// memory is bounded by the clients active in the last minute, and by
// maxRateClients whatever happens (client names come from the subjects
// NATS let a request through on, so there are as many as creds and
// tokens were issued; the cap only guards against a flood of them).
const (
	rateSeconds    = 60
	maxRateClients = 4096
)

// perSecond is one client's acceptances in its last rateSeconds seconds:
// slot i holds the count of the second sec[i] (a slot whose second left
// the minute counts nothing).
type perSecond struct {
	sec [rateSeconds]int64
	n   [rateSeconds]int32
}

func (p *perSecond) add(at int64) {
	i := at % rateSeconds
	switch {
	case p.sec[i] > at:
		return // a minute older than what the slot holds: out of the window
	case p.sec[i] < at:
		p.sec[i], p.n[i] = at, 0
	}
	p.n[i]++
}

// sum counts the acceptances in the minute up to now.
func (p *perSecond) sum(now time.Time) int {
	cur, total := now.Unix(), 0
	for i, s := range p.sec {
		if s <= cur && cur-s < rateSeconds {
			total += int(p.n[i])
		}
	}
	return total
}

// latest is the newest second with an acceptance.
func (p *perSecond) latest() int64 {
	var last int64
	for i, s := range p.sec {
		if p.n[i] > 0 {
			last = max(last, s)
		}
	}
	return last
}

// acceptances are the per-second counts of every client active in the
// last minute.
type acceptances struct {
	byClient map[string]*perSecond
}

func newAcceptances() acceptances { return acceptances{byClient: map[string]*perSecond{}} }

// note counts one acceptance of client at at, if it is within the minute
// before now (a stamp ahead of now, from a skewed clock, counts as now).
func (a *acceptances) note(client string, at, now time.Time) {
	if at.After(now) {
		at = now
	}
	if now.Sub(at) >= rateSeconds*time.Second {
		return
	}
	p, ok := a.byClient[client]
	if !ok {
		if len(a.byClient) >= maxRateClients {
			a.prune(now)
		}
		if len(a.byClient) >= maxRateClients {
			return // a flood of names: the figures of the ones held stay right
		}
		p = &perSecond{}
		a.byClient[client] = p
	}
	p.add(at.Unix())
}

// prune lets go of the clients with no acceptance in the last minute.
func (a *acceptances) prune(now time.Time) {
	for name, p := range a.byClient {
		if now.Unix()-p.latest() >= rateSeconds {
			delete(a.byClient, name)
		}
	}
}
