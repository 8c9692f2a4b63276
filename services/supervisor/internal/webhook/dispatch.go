package webhook

import (
	"container/list"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"cyberimage/shared/backoff"
	"cyberimage/shared/job"
	"cyberimage/shared/lifecycle"
)

// Why a delivery's context ended, besides the leader's run ending.
var (
	errDropped    = errors.New("dropped: too many deliveries pending")
	errSuperseded = errors.New("superseded by a later end of the job")
	errWindow     = errors.New("no 2xx answer within the retry window")
	// errFinal ends a delivery that recorded its own end (gone, refused).
	errFinal = errors.New("delivery ended")
)

// delivery is one end of one job to report.
type delivery struct {
	id       string // Cyberimage-Delivery
	jobID    string
	url      string
	host     string // per-host cap key
	revision uint64
	endedAs  job.Status
	body     []byte

	// target is the URL to call, and exact whether the allow list names
	// its host exactly: checked at the first attempt, by run's goroutine
	// alone.
	target string
	exact  bool

	cancel   context.CancelCauseFunc
	elem     *list.Element
	detached bool // dropped or superseded: no longer in pending
}

// dispatcher holds the deliveries of one leader's run: a goroutine each,
// retrying on lifecycle.Retry, whose calls take a slot of its host and one
// of the pool. add never waits, so the leader's loop never does.
type dispatcher struct {
	p   *Params
	log *zap.Logger
	ctx context.Context // the leader's run

	workers chan struct{}
	wg      sync.WaitGroup

	mu      sync.Mutex
	pending map[string]*delivery // by job id
	order   *list.List           // oldest first
	hosts   map[string]*host
}

// host is the call slots of one host, kept while it has deliveries.
type host struct {
	slots chan struct{}
	users int
}

func newDispatcher(ctx context.Context, p *Params, log *zap.Logger) *dispatcher {
	return &dispatcher{p: p, log: log, ctx: ctx, workers: make(chan struct{}, p.Workers),
		pending: map[string]*delivery{}, order: list.New(), hosts: map[string]*host{}}
}

// add takes up the end of a job at revision rev, if it has a callback and
// is not held already. Beyond MaxPending the oldest delivery is dropped.
func (x *dispatcher) add(rev uint64, rec job.Record) {
	if rec.Spec.CallbackURL == "" {
		return
	}
	d := &delivery{id: DeliveryID(rec), jobID: rec.JobID, url: rec.Spec.CallbackURL, revision: rev, endedAs: rec.Status}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.ctx.Err() != nil {
		return
	}
	old, held := x.pending[rec.JobID]
	if held && old.id == d.id {
		return // a catch-up's read again of an end held already
	}
	if u, err := url.Parse(d.url); err == nil {
		d.host = strings.ToLower(u.Host)
	}
	// The record as GET /v1/jobs/{id} shows it; a record decoded from
	// JSON encodes again.
	d.body, _ = json.Marshal(rec.Public())
	if held {
		x.detach(old, errSuperseded)
	}
	if len(x.pending) >= x.p.MaxPending {
		x.detach(x.order.Front().Value.(*delivery), errDropped)
		x.p.Metrics.dropped.Add(1)
	}
	ctx, cancel := context.WithCancelCause(x.ctx)
	d.cancel, d.elem = cancel, x.order.PushBack(d)
	x.pending[d.jobID] = d
	x.p.Metrics.pending.Store(int64(len(x.pending)))
	h := x.hosts[d.host]
	if h == nil {
		h = &host{slots: make(chan struct{}, x.p.PerHost)}
		x.hosts[d.host] = h
	}
	h.users++
	x.wg.Add(1)
	go x.run(ctx, d, h)
}

// detach takes d out of pending and ends it for cause; with x.mu held.
func (x *dispatcher) detach(d *delivery, cause error) {
	d.cancel(cause)
	x.forget(d)
}

// forget takes d out of pending; with x.mu held.
func (x *dispatcher) forget(d *delivery) {
	d.detached = true
	delete(x.pending, d.jobID)
	x.order.Remove(d.elem)
	x.p.Metrics.pending.Store(int64(len(x.pending)))
}

// done forgets d once its goroutine ends. Once the leader's run has ended
// it stays held, so that the last checkpoint stays below it: the next
// leader resumes it.
func (x *dispatcher) done(d *delivery, h *host) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !d.detached && x.ctx.Err() == nil {
		x.forget(d)
	}
	if h.users--; h.users == 0 {
		delete(x.hosts, d.host)
	}
}

// lowWater is the checkpoint: below the oldest delivery held, else taken.
func (x *dispatcher) lowWater(taken uint64) uint64 {
	x.mu.Lock()
	defer x.mu.Unlock()
	low := taken
	for _, d := range x.pending {
		low = min(low, max(d.revision, 1)-1)
	}
	return low
}

// wait waits for every delivery to end; they end with the leader's run.
func (x *dispatcher) wait() {
	x.wg.Wait()
	x.p.Metrics.pending.Store(0)
}

// run delivers d: it resumes what the book holds of it (an earlier
// leader's attempts and window), then tries until an attempt settles it,
// its window ends, or its context does.
func (x *dispatcher) run(ctx context.Context, d *delivery, h *host) {
	defer x.wg.Done()
	defer x.done(d, h)
	st, err := x.resume(ctx, d)
	if err != nil || st.State.Settled() {
		x.end(ctx, d, &st, err)
		return
	}
	window, cancel := context.WithDeadlineCause(ctx, st.Since.Add(x.p.RetryFor), errWindow)
	defer cancel()
	err = lifecycle.Retry(window, lifecycle.Policy{Backoff: x.p.Backoff}, func(ctx context.Context) error {
		return x.attempt(ctx, d, h, &st)
	})
	if err != nil && !errors.Is(err, errFinal) {
		err = context.Cause(window)
	}
	x.end(ctx, d, &st, err)
}

// resume reads the book's entry of d: an earlier leader's, for this very
// end of the job, or a fresh one.
func (x *dispatcher) resume(ctx context.Context, d *delivery) (Status, error) {
	var st Status
	err := lifecycle.Retry(ctx, lifecycle.Policy{Backoff: backoff.Policy{Base: time.Second, Max: 30 * time.Second, Jitter: 0.2}},
		func(ctx context.Context) error {
			s, found, err := x.p.Book.Get(ctx, d.jobID)
			if err != nil {
				return err
			}
			st = s
			if !found || s.Delivery != d.id {
				st = fresh(d)
			}
			return nil
		})
	if err != nil {
		return fresh(d), context.Cause(ctx)
	}
	if st.Since.IsZero() {
		st.Since = time.Now().UTC()
	}
	return st, nil
}

// fresh is the entry of a delivery not attempted yet.
func fresh(d *delivery) Status {
	return Status{URL: d.url, State: StatePending, Delivery: d.id, Revision: d.revision, EndedAs: d.endedAs}
}

// attempt makes one call, records it and judges it: nil when delivered,
// a Permanent error when the delivery ended otherwise, an error to retry.
func (x *dispatcher) attempt(ctx context.Context, d *delivery, h *host, st *Status) error {
	if d.target == "" {
		// Hosts stay as they are for the leader's run, so one check
		// stands for every retry of this delivery.
		u, m, err := job.ParseCallbackURL(d.url, x.p.Hosts)
		if err != nil {
			// The operator narrowed the allow list since the job came in.
			x.record(d, st, Attempt{At: time.Now().UTC(), Outcome: OutcomeRefused, Error: err.Error()}, StateFailed, "refused: "+err.Error())
			return lifecycle.Permanent(errFinal)
		}
		d.target, d.exact = u.String(), m.Exact
	}
	release, err := x.acquire(ctx, h)
	if err != nil {
		return err
	}
	start := time.Now()
	code, err := x.p.Poster.Post(ctx, Call{URL: d.target, JobID: d.jobID, Delivery: d.id, Body: d.body, Exact: d.exact})
	release()
	if x.ctx.Err() != nil {
		return x.ctx.Err() // the lease is gone: the next leader makes and records the next attempt
	}
	outcome, retry := judge(code, err)
	a := Attempt{At: start.UTC(), Outcome: outcome, HTTPStatus: code, DurationMS: job.Millis(time.Since(start))}
	if err != nil {
		a.Error = short(err.Error())
	}
	switch outcome {
	case OutcomeDelivered:
		x.record(d, st, a, StateDelivered, "")
		return nil
	case OutcomeGone:
		x.record(d, st, a, StateFailed, "the receiver answered 410 Gone")
	case OutcomeRefused:
		x.record(d, st, a, StateFailed, a.Error)
	default:
		x.record(d, st, a, StatePending, "")
	}
	if !retry {
		return lifecycle.Permanent(errFinal)
	}
	if err == nil {
		err = fmt.Errorf("HTTP %d", code)
	}
	return err
}

// acquire takes a slot of h, then one of the pool, so a host at its cap
// waits without holding a slot another host could use.
func (x *dispatcher) acquire(ctx context.Context, h *host) (release func(), err error) {
	select {
	case h.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case x.workers <- struct{}{}:
	case <-ctx.Done():
		<-h.slots
		return nil, ctx.Err()
	}
	return func() { <-x.workers; <-h.slots }, nil
}

// record adds an attempt to st, moves it to state and writes it to the
// book, which may fail: the attempt was made all the same.
func (x *dispatcher) record(d *delivery, st *Status, a Attempt, state State, reason string) {
	st.add(a)
	st.State, st.Reason = state, reason
	x.p.Metrics.attempts[a.Outcome].Add(1)
	if state.Settled() {
		x.p.Metrics.settled[state].Add(1)
	}
	x.write(d, st)
}

// end settles a delivery that no attempt settled: dropped, given up, or
// left to the next leader.
func (x *dispatcher) end(ctx context.Context, d *delivery, st *Status, err error) {
	switch cause := context.Cause(ctx); {
	case err == nil || errors.Is(err, errFinal) || st.State.Settled():
		return // settled by an attempt, or before this leader
	case x.ctx.Err() != nil, errors.Is(cause, errSuperseded):
		return // the next leader, or the job's next end, carries on
	case errors.Is(cause, errDropped):
		st.State, st.Reason = StateFailed, fmt.Sprintf("%v (more than %d)", errDropped, x.p.MaxPending)
	case errors.Is(err, errWindow):
		st.State, st.Reason = StateGaveUp, fmt.Sprintf("%v (%s)", errWindow, x.p.RetryFor)
	default:
		return
	}
	x.p.Metrics.settled[st.State].Add(1)
	x.log.Warn("webhook not delivered", zap.String("job_id", d.jobID), zap.String("state", string(st.State)),
		zap.String("reason", st.Reason), zap.Int("attempts", st.Count))
	x.write(d, st)
}

func (x *dispatcher) write(d *delivery, st *Status) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(x.ctx), 5*time.Second)
	defer cancel()
	if err := x.p.Book.Put(ctx, d.jobID, *st); err != nil {
		x.log.Warn("recording a webhook attempt failed", zap.String("job_id", d.jobID), zap.Error(err))
	}
}

// short bounds an error kept in an attempt.
func short(s string) string {
	const limit = 300
	if len(s) > limit {
		return s[:limit] + "…"
	}
	return s
}
