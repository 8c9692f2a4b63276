package webhook

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"cyberimage/shared/backoff"
	"cyberimage/shared/job"
)

// fakeBook is a Keeper in memory.
type fakeBook struct {
	mu      sync.Mutex
	entries map[string]Status
}

func (b *fakeBook) Get(_ context.Context, id string) (Status, bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, ok := b.entries[id]
	return s, ok, nil
}

func (b *fakeBook) Put(_ context.Context, id string, s Status) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.entries == nil {
		b.entries = map[string]Status{}
	}
	s.Attempts = append([]Attempt(nil), s.Attempts...)
	b.entries[id] = s
	return nil
}

func (b *fakeBook) entry(id string) Status {
	s, _, _ := b.Get(context.Background(), id)
	return s
}

// receiver is a Poster whose answers a test scripts per host: a function
// of the call number there (from 1), which may block until the call's
// context ends (a receiver that never answers).
type receiver struct {
	mu     sync.Mutex
	answer map[string]func(ctx context.Context, n int) (int, error)
	calls  map[string]int
	got    []Call
}

func (r *receiver) Post(ctx context.Context, c Call) (int, error) {
	r.mu.Lock()
	host := c.URL[len("https://"):]
	host = host[:len(host)-len("/cb")]
	r.calls[host]++
	n, answer := r.calls[host], r.answer[host]
	r.got = append(r.got, c)
	r.mu.Unlock()
	return answer(ctx, n)
}

func (r *receiver) count(host string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[host]
}

func down(ctx context.Context, _ int) (int, error) { return 0, errors.New("connection refused") }
func ok(ctx context.Context, _ int) (int, error)   { return http.StatusNoContent, nil }
func hang(ctx context.Context, _ int) (int, error) { <-ctx.Done(); return 0, ctx.Err() }

// rig is a dispatcher over a fake book and receiver, in a synctest bubble.
type rig struct {
	t      *testing.T
	x      *dispatcher
	book   *fakeBook
	recv   *receiver
	p      *Params
	cancel context.CancelFunc
}

func newRig(t *testing.T, hosts string, answers map[string]func(context.Context, int) (int, error), tune func(*Params)) *rig {
	allow, err := job.ParseCallbackHosts(hosts)
	require.NoError(t, err)
	r := &rig{t: t, book: &fakeBook{}, recv: &receiver{answer: answers, calls: map[string]int{}}}
	r.p = &Params{Book: r.book, Poster: r.recv, Hosts: allow, RetryFor: time.Hour, Workers: 4, PerHost: 2, MaxPending: 100,
		Backoff: backoff.Policy{Base: 2 * time.Second, Max: 5 * time.Minute}, Metrics: NewMetrics()}
	if tune != nil {
		tune(r.p)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.x = newDispatcher(ctx, r.p, zaptest.NewLogger(t))
	t.Cleanup(r.stop) // also when the test fails: no goroutine outlives the bubble
	return r
}

// stop ends the leader's run and waits for every delivery.
func (r *rig) stop() { r.cancel(); r.x.wait() }

// ended is a job that ended with a callback to host.
func ended(id, host string) job.Record {
	return job.Record{JobID: id, Status: job.StatusCompleted, Spec: job.Spec{Prompt: "p", CallbackURL: "https://" + host + "/cb"}}
}

func TestDeliveredOnceAfterTheReceiverComesBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var up atomic.Bool
		r := newRig(t, "hooks.example.com", map[string]func(context.Context, int) (int, error){
			"hooks.example.com": func(ctx context.Context, n int) (int, error) {
				if !up.Load() {
					return down(ctx, n)
				}
				return ok(ctx, n)
			},
		}, nil)
		start := time.Now()
		r.x.add(7, ended("J1", "hooks.example.com"))
		synctest.Wait()
		require.Equal(t, 1, r.recv.count("hooks.example.com"), "the first attempt comes at once")
		time.Sleep(2 * time.Second) // the first backoff
		synctest.Wait()
		require.Equal(t, 2, r.recv.count("hooks.example.com"))
		up.Store(true)
		time.Sleep(4 * time.Second) // the second, doubled
		synctest.Wait()
		require.Equal(t, 3, r.recv.count("hooks.example.com"))
		st := r.book.entry("J1")
		require.Equal(t, StateDelivered, st.State)
		require.Equal(t, "J1.0", st.Delivery)
		require.Equal(t, 3, st.Count)
		require.Equal(t, []string{OutcomeNetworkError, OutcomeNetworkError, OutcomeDelivered},
			[]string{st.Attempts[0].Outcome, st.Attempts[1].Outcome, st.Attempts[2].Outcome})
		require.Equal(t, http.StatusNoContent, st.Attempts[2].HTTPStatus)
		require.Equal(t, "connection refused", st.Attempts[0].Error)
		require.Equal(t, start.UTC(), st.Since)
		// Nothing more, ever: delivered once.
		time.Sleep(2 * time.Hour)
		synctest.Wait()
		require.Equal(t, 3, r.recv.count("hooks.example.com"))
		require.EqualValues(t, 1, r.p.Metrics.Settled(StateDelivered))
		require.EqualValues(t, 2, r.p.Metrics.Attempts(OutcomeNetworkError))
		require.Zero(t, r.p.Metrics.Pending())
		// Every call of one delivery carries the same id and body.
		require.Equal(t, r.recv.got[0].Delivery, r.recv.got[2].Delivery)
		require.Equal(t, r.recv.got[0].Body, r.recv.got[2].Body)
		require.True(t, r.recv.got[0].Exact, "the allow list names the host exactly")
		r.stop()
	})
}

func TestGoneEndsAndOtherAnswersRetryUntilTheWindowEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, "gone.example.com,busy.example.com", map[string]func(context.Context, int) (int, error){
			"gone.example.com": func(context.Context, int) (int, error) { return http.StatusGone, nil },
			"busy.example.com": func(context.Context, int) (int, error) { return http.StatusServiceUnavailable, nil },
		}, func(p *Params) { p.RetryFor = 10 * time.Minute })
		r.x.add(1, ended("GONE", "gone.example.com"))
		r.x.add(2, ended("BUSY", "busy.example.com"))
		time.Sleep(11 * time.Minute)
		synctest.Wait()
		gone := r.book.entry("GONE")
		require.Equal(t, StateFailed, gone.State)
		require.Equal(t, 1, gone.Count, "410 is not retried")
		require.Equal(t, 1, r.recv.count("gone.example.com"))
		busy := r.book.entry("BUSY")
		require.Equal(t, StateGaveUp, busy.State)
		// 2+4+8+16+32+64+128+256 s = 8.5 min: nine calls in the window.
		require.Equal(t, 9, busy.Count)
		require.Equal(t, http.StatusServiceUnavailable, busy.Attempts[8].HTTPStatus)
		require.Contains(t, busy.Reason, "retry window")
		require.EqualValues(t, 1, r.p.Metrics.Settled(StateGaveUp))
		require.EqualValues(t, 1, r.p.Metrics.Settled(StateFailed))
		require.EqualValues(t, 9, r.p.Metrics.Attempts(OutcomeHTTPError))
		require.EqualValues(t, 1, r.p.Metrics.Attempts(OutcomeGone))
		r.stop()
	})
}

func TestAttemptsKeptAreBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, "busy.example.com", map[string]func(context.Context, int) (int, error){
			"busy.example.com": func(context.Context, int) (int, error) { return http.StatusInternalServerError, nil },
		}, func(p *Params) { p.Backoff, p.RetryFor = backoff.Fixed(time.Second), time.Hour+time.Second/2 })
		r.x.add(1, ended("J", "busy.example.com"))
		time.Sleep(2 * time.Hour)
		synctest.Wait()
		st := r.book.entry("J")
		require.Equal(t, StateGaveUp, st.State)
		require.Equal(t, 3601, st.Count)
		require.Len(t, st.Attempts, keptAttempts)
		r.stop()
	})
}

func TestNarrowedAllowListRefusesWithoutCalling(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, "other.example.com", map[string]func(context.Context, int) (int, error){"hooks.example.com": ok}, nil)
		r.x.add(1, ended("J", "hooks.example.com"))
		synctest.Wait()
		st := r.book.entry("J")
		require.Equal(t, StateFailed, st.State)
		require.Equal(t, OutcomeRefused, st.Attempts[0].Outcome)
		require.Contains(t, st.Reason, "callback_not_allowed")
		require.Zero(t, r.recv.count("hooks.example.com"))
		r.stop()
	})
}

func TestSlowReceiverHoldsOnlyItsOwnSlots(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, "slow.example.com,fast.example.com", map[string]func(context.Context, int) (int, error){
			"slow.example.com": hang, "fast.example.com": ok,
		}, func(p *Params) { p.Workers, p.PerHost = 3, 2 })
		for i := range 10 {
			r.x.add(uint64(i+1), ended(fmt.Sprintf("SLOW%d", i), "slow.example.com"))
		}
		for i := range 5 {
			r.x.add(uint64(i+11), ended(fmt.Sprintf("FAST%d", i), "fast.example.com"))
		}
		synctest.Wait()
		// The slow host holds its two slots; the fast one's calls all went
		// through the one slot left, without any time passing.
		require.Equal(t, 2, r.recv.count("slow.example.com"))
		require.Equal(t, 5, r.recv.count("fast.example.com"))
		for i := range 5 {
			require.Equal(t, StateDelivered, r.book.entry(fmt.Sprintf("FAST%d", i)).State)
		}
		require.EqualValues(t, 10, r.p.Metrics.Pending())
		r.stop()
		require.Zero(t, r.p.Metrics.Pending())
	})
}

func TestFullQueueDropsTheOldest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, "slow.example.com", map[string]func(context.Context, int) (int, error){"slow.example.com": hang},
			func(p *Params) { p.MaxPending = 3 })
		for i := range 5 {
			r.x.add(uint64(i+1), ended(fmt.Sprintf("J%d", i), "slow.example.com"))
		}
		synctest.Wait()
		require.EqualValues(t, 2, r.p.Metrics.Dropped())
		require.EqualValues(t, 3, r.p.Metrics.Pending())
		for _, id := range []string{"J0", "J1"} {
			st := r.book.entry(id)
			require.Equal(t, StateFailed, st.State, id)
			require.Contains(t, st.Reason, "dropped")
		}
		_, found, _ := r.book.Get(context.Background(), "J2")
		require.False(t, found, "J2 is held, its call in flight and not recorded yet")
		// The checkpoint stays below the oldest held.
		require.EqualValues(t, 2, r.x.lowWater(10))
		r.stop()
		require.EqualValues(t, 2, r.x.lowWater(10), "deliveries cut by the run's end stay held")
	})
}

func TestResumesWhatAnEarlierLeaderRecorded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, "hooks.example.com", map[string]func(context.Context, int) (int, error){"hooks.example.com": down}, nil)
		late, done := ended("LATE", "hooks.example.com"), ended("DONE", "hooks.example.com")
		since := time.Now().Add(-59 * time.Minute).UTC()
		require.NoError(t, r.book.Put(context.Background(), "LATE", Status{URL: late.Spec.CallbackURL, State: StatePending,
			Delivery: DeliveryID(late), Since: since, Count: 12}))
		require.NoError(t, r.book.Put(context.Background(), "DONE", Status{URL: done.Spec.CallbackURL, State: StateDelivered,
			Delivery: DeliveryID(done), Count: 1}))
		r.x.add(1, late)
		r.x.add(2, done)
		time.Sleep(time.Minute)
		synctest.Wait()
		st := r.book.entry("LATE")
		require.Equal(t, StateGaveUp, st.State, "its window counts from the first leader's first attempt")
		require.Equal(t, since, st.Since)
		require.Greater(t, st.Count, 12)
		require.Equal(t, StateDelivered, r.book.entry("DONE").State)
		require.Equal(t, st.Count-12, r.recv.count("hooks.example.com"), "nothing sent for the settled one")
		r.stop()
	})
}

func TestALaterEndSupersedesAndDuplicatesAreIgnored(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, "slow.example.com", map[string]func(context.Context, int) (int, error){"slow.example.com": hang}, nil)
		rec := ended("J", "slow.example.com")
		r.x.add(1, rec)
		r.x.add(1, rec) // the catch-up and the feed both saw it
		synctest.Wait()
		require.Equal(t, 1, r.recv.count("slow.example.com"))
		rec.Requeues = 1 // re-queued by an operator, ended again
		r.x.add(5, rec)
		synctest.Wait()
		require.Equal(t, 2, r.recv.count("slow.example.com"))
		require.EqualValues(t, 1, r.p.Metrics.Pending())
		require.EqualValues(t, 4, r.x.lowWater(9))
		require.Zero(t, r.p.Metrics.Dropped())
		require.Zero(t, r.p.Metrics.Settled(StateFailed), "the first end was superseded, not failed")
		r.stop()
	})
}

func TestNoCallbackNoDelivery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, "hooks.example.com", nil, nil)
		r.x.add(1, job.Record{JobID: "J", Status: job.StatusCompleted})
		synctest.Wait()
		require.Zero(t, r.p.Metrics.Pending())
		require.EqualValues(t, 3, r.x.lowWater(3))
		r.stop()
	})
}
