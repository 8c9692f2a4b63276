package tally

import (
	"sort"
	"time"

	"cyberimage/shared/bus"
	"cyberimage/shared/job"
	"cyberimage/shared/quota"
)

// Window is the span the per-minute rate counts accepted jobs over.
const Window = time.Minute

// QueuedRetryAfter is the retry hint of a quota_exceeded refusal. When a
// client's queue has room again depends on runners nobody here can
// predict; a few seconds lets a waiting client notice a freed slot soon
// without hammering ingest.
const QueuedRetryAfter = 5 * time.Second

// tracked is what the tally knows of one job that counts against its
// client: queued now, or accepted within the Window.
type tracked struct {
	client     string
	queued     bool
	acceptedAt time.Time // zero: not counted against the rate any more
	// reserved: an admission here counted it before its record was seen;
	// the watch's first sighting of the record replaces the entry.
	reserved bool
	gen      uint64 // the watch that last saw it (see begin and sweep)
}

// usage is one client's counted jobs.
type usage struct {
	queued int
	recent map[string]time.Time // job id → accepted at, within the Window
	// order is recent as a queue by accepted time, oldest first, so that
	// pruning pops from the front and the oldest is the head instead of a
	// walk over every job of the minute. An uncount leaves its entry in
	// place (stale: recent no longer holds the same time for its id);
	// stale entries leave at the front or when the queue is compacted.
	order []stamp
}

// stamp is one entry of usage.order.
type stamp struct {
	id string
	at time.Time
}

// live says whether st still stands for a counted job.
func (u *usage) live(st stamp) bool {
	at, ok := u.recent[st.id]
	return ok && at.Equal(st.at)
}

// push counts id accepted at in the queue, in time order: sightings may
// come out of creation order (other replicas, a catch-up), though most
// land at the end.
func (u *usage) push(id string, at time.Time) {
	i := sort.Search(len(u.order), func(i int) bool { return u.order[i].at.After(at) })
	if i == len(u.order) {
		u.order = append(u.order, stamp{id, at})
	} else {
		u.order = append(u.order, stamp{})
		copy(u.order[i+1:], u.order[i:])
		u.order[i] = stamp{id, at}
	}
	// A job sighted again (each status change) leaves a stale entry: keep
	// the queue within a constant factor of the jobs counted.
	if len(u.order) > 2*len(u.recent)+8 {
		u.compact()
	}
}

// compact drops the stale entries, and the repeats of one job that a
// sighting of the same time leaves (both match recent).
func (u *usage) compact() {
	kept := make([]stamp, 0, len(u.recent))
	seen := make(map[string]bool, len(u.recent))
	for _, st := range u.order {
		if u.live(st) && !seen[st.id] {
			seen[st.id] = true
			kept = append(kept, st)
		}
	}
	u.order = kept
}

// pop drops the head of the queue.
func (u *usage) pop() {
	u.order[0] = stamp{} // the backing array keeps no id alive
	u.order = u.order[1:]
}

// oldest is the earliest accepted time counted, if any.
func (u *usage) oldest() (time.Time, bool) {
	for _, st := range u.order {
		if u.live(st) {
			return st.at, true
		}
	}
	return time.Time{}, false
}

// state is the tally's counts; it is not safe for concurrent use (Tally
// locks it). Only jobs of clients with a limit are kept, and only while
// they count, so its size follows the limited clients' queued jobs and
// rates, never the jobs that ever ran.
type state struct {
	limits  quota.Table
	jobs    map[string]*tracked
	clients map[string]*usage
	gen     uint64
}

func newState(limits quota.Table) *state {
	return &state{limits: limits, jobs: map[string]*tracked{}, clients: map[string]*usage{}}
}

// sight applies the latest record under id as the watch delivered it;
// rec nil: the key was deleted. A sighting is the truth about a job,
// whoever wrote it: it replaces a reservation of the same id.
func (s *state) sight(id string, rec *sighted, now time.Time) {
	old := s.jobs[id]
	if old != nil {
		s.uncount(id, old)
		delete(s.jobs, id)
	}
	if rec == nil {
		return
	}
	client := rec.Client
	if client == "" && old != nil {
		// A writer that rebuilt the record without the field (an older
		// runner) does not move the job to another client's count.
		client = old.client
	}
	client = bus.RecordClient(client)
	e := &tracked{client: client, queued: rec.Status == job.StatusQueued, gen: s.gen}
	if rec.Status != job.StatusRejected && inWindow(rec.CreatedAt, now) {
		e.acceptedAt = rec.CreatedAt
	}
	if s.limits.For(client).Unlimited() || (!e.queued && e.acceptedAt.IsZero()) {
		return
	}
	s.jobs[id] = e
	s.count(id, e)
}

// reserve counts a job about to be created for client when both of the
// client's limits allow one more, and returns the entry to hand to release
// if the record is not created after all. A job the tally already counts
// (a duplicate, a redelivery) passes without a second count (nil entry).
func (s *state) reserve(client, id string, createdAt, now time.Time) (*tracked, *Refusal) {
	l := s.limits.For(client)
	if l.Unlimited() || s.jobs[id] != nil {
		return nil, nil
	}
	u := s.clients[client]
	if u != nil {
		s.pruneClient(client, u, now)
	}
	if r := refusal(client, l, u, now); r != nil {
		return nil, r
	}
	e := &tracked{client: client, queued: true, reserved: true, gen: s.gen}
	if inWindow(createdAt, now) {
		e.acceptedAt = createdAt
	}
	s.jobs[id] = e
	s.count(id, e)
	return e, nil
}

// release takes back reservation e of id, unless the watch has seen the
// record since (then the sighting is what counts).
func (s *state) release(id string, e *tracked) {
	if e == nil || s.jobs[id] != e {
		return
	}
	s.uncount(id, e)
	delete(s.jobs, id)
}

func (s *state) count(id string, e *tracked) {
	u := s.clients[e.client]
	if u == nil {
		u = &usage{recent: map[string]time.Time{}}
		s.clients[e.client] = u
	}
	if e.queued {
		u.queued++
	}
	if !e.acceptedAt.IsZero() {
		u.recent[id] = e.acceptedAt
		u.push(id, e.acceptedAt)
	}
}

func (s *state) uncount(id string, e *tracked) {
	u := s.clients[e.client]
	if u == nil {
		return
	}
	if e.queued {
		u.queued--
	}
	delete(u.recent, id) // its entry in u.order is stale now
	if u.queued == 0 && len(u.recent) == 0 {
		delete(s.clients, e.client)
	}
}

// prune forgets the jobs accepted before the Window that are not queued,
// and the clients left with nothing counted.
func (s *state) prune(now time.Time) {
	for client, u := range s.clients {
		s.pruneClient(client, u, now)
	}
}

// pruneClient pops u's queue up to the first job still counted and in
// the Window: the queue is in time order, so what is left is in it.
func (s *state) pruneClient(client string, u *usage, now time.Time) {
	for len(u.order) > 0 {
		head := u.order[0]
		if !u.live(head) {
			u.pop()
			continue
		}
		if inWindow(head.at, now) {
			break
		}
		u.pop()
		delete(u.recent, head.id)
		if e := s.jobs[head.id]; e != nil {
			e.acceptedAt = time.Time{}
			if !e.queued {
				delete(s.jobs, head.id)
			}
		}
	}
	if u.queued == 0 && len(u.recent) == 0 {
		delete(s.clients, client)
	}
}

// begin starts a new watch of the whole bucket, and sweep ends it once
// the watch has caught up: what the earlier watch saw and this one did
// not is gone (deleted while no watch ran). Reservations stay: their
// records may be written after the new watch's start.
func (s *state) begin() { s.gen++ }

func (s *state) sweep() {
	for id, e := range s.jobs {
		if e.gen < s.gen && !e.reserved {
			s.uncount(id, e)
			delete(s.jobs, id)
		}
	}
}

func inWindow(at, now time.Time) bool { return !at.IsZero() && now.Sub(at) < Window }
