// Package tally counts, per client, the jobs its quotas limit: those
// queued now and those accepted in the last minute. The counts come from
// the job records (a watch of the jobs bucket), so every ingest replica
// sees every replica's jobs and a restarted ingest sees those queued
// before; an admission also counts its job at once (a reservation), so a
// burst is counted exactly before the watch has seen any of it.
package tally

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"cyberimage/shared/job"
	"cyberimage/shared/kvfollow"
	"cyberimage/shared/quota"
)

// Tally is the counting component: Start watches the bucket, Stop ends
// the watch.
type Tally struct {
	kv  jetstream.KeyValue
	log *zap.Logger
	now func() time.Time

	mu       sync.Mutex
	st       *state
	applied  uint64 // the latest revision of the bucket the watch delivered
	startRev uint64 // the bucket's revision when the current watch began
	seen     int64  // records the current watch delivered

	caughtUp  chan struct{}
	markReady func()
	follower  kvfollow.Follower
	// checkEvery: how often a catch-up reports its progress and a caught
	// up watch is checked for staleness (tests shorten it).
	checkEvery time.Duration
}

// New makes a tally of the records in kv under limits; Start fills it.
func New(kv jetstream.KeyValue, limits quota.Table, logger *zap.Logger) *Tally {
	t := &Tally{kv: kv, log: logger.Named("quotas"), now: time.Now, st: newState(limits),
		caughtUp: make(chan struct{}), checkEvery: 5 * time.Second}
	t.markReady = sync.OnceFunc(func() { close(t.caughtUp) })
	return t
}

// CaughtUp is closed once the tally has counted every record the bucket
// held when it started: before, an admission could not see the jobs
// already queued.
func (t *Tally) CaughtUp() <-chan struct{} { return t.caughtUp }

// Ready says whether CaughtUp is closed.
func (t *Tally) Ready() bool {
	select {
	case <-t.caughtUp:
		return true
	default:
		return false
	}
}

// Reserve counts a job about to be created with the id for client, whose
// request the stream stored at createdAt, when the client's limits allow
// it; release takes the count back if the record is not created after
// all. A refusal is a *Refusal.
func (t *Tally) Reserve(client, id string, createdAt time.Time) (release func(), refused error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, r := t.st.reserve(client, id, createdAt, t.now())
	if r != nil {
		return func() {}, r
	}
	return func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		t.st.release(id, e)
	}, nil
}

// Usage is what counts against one client now. Only tests read it (this
// package's, and intake's from outside: hence exported); the metrics
// Collect reads the state itself.
type Usage struct {
	Queued     int `json:"queued"`
	LastMinute int `json:"last_minute"`
}

// Usage is client's counted jobs: queued, and accepted in the last minute.
func (t *Tally) Usage(client string) Usage {
	t.mu.Lock()
	defer t.mu.Unlock()
	u := t.st.clients[client]
	if u == nil {
		return Usage{}
	}
	t.st.pruneClient(client, u, t.now())
	return Usage{Queued: u.queued, LastMinute: len(u.recent)}
}

// sighted is the part of a record the tally reads: decoding only these
// keeps the catch-up over a large bucket quick.
type sighted struct {
	Status    job.Status `json:"status"`
	Client    string     `json:"client"`
	CreatedAt time.Time  `json:"created_at"`
}

// apply counts one entry of the watch.
func (t *Tally) apply(e jetstream.KeyValueEntry) {
	var rec *sighted
	if e.Operation() == jetstream.KeyValuePut {
		rec = &sighted{}
		if err := json.Unmarshal(e.Value(), rec); err != nil {
			t.log.Warn("undecodable record; not counted", zap.String("job_id", e.Key()), zap.Error(err))
			rec = nil
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.st.sight(e.Key(), rec, t.now())
	t.applied = max(t.applied, e.Revision())
	t.seen++
}
