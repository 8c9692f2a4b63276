package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"cyberimage/tools/internal/nearestrank"
)

// stepResult is one step's figures over its window: CPU in cores, memory
// in MB, rates a second.
type stepResult struct {
	runners, slots   int
	leader, follower string  // the supervisors' ids
	rate             float64 // jobs fed a second
	window           time.Duration
	running, held    float64 // mean jobs running (claimed) and held (with prefetched)

	cpu     map[string]float64 // cores, by process name
	rss     map[string]float64 // MB at the end, by process name
	harness float64
	machine float64 // the whole machine, every tenant
	cores   int

	sends    map[string]float64            // the runners' messages, by kind
	supDeliv map[string]map[string]float64 // by supervisor id, by kind
	supSent  map[string]float64
	nodeIn   map[string]float64 // messages into each node
	nodeOut  map[string]float64

	lag        map[string][2]time.Duration // index lag p50 and p99, by supervisor id
	lagSamples map[string]int
	claim      [2]time.Duration // publish → claim p50, p99, with a slot waiting
	claims     int
	claimAll   [2]time.Duration // every claim
	claimsAll  int
	firstEvent [2]time.Duration // claim → first event on /v1/events
	sampled    int

	profiled   bool
	passCPU    time.Duration // the watchdog's CPU per pass
	lostCPU    time.Duration // the runner-loss pass's CPU per pass
	components map[string]float64
	profSample int

	// recoveries and slow are summed over the supsRead of supsAll
	// supervisors whose /metrics were read at both ends of the window;
	// emusRead emulators were read at both ends.
	recoveries, slow            float64
	supsRead, supsAll, emusRead int
	tickP99                     float64 // the emulators' worst tick lag p99, ms
	tickMax                     float64
	answered, failed            int
	errors                      float64
	missed                      []string // figures that could not be read
}

// countSample is a supervisor's count of completed jobs at a moment.
type countSample struct {
	at        time.Time
	completed int
}

// measure reads the window's figures.
func (h *harness) measure(ctx context.Context, n int, rate float64) (stepResult, error) {
	r := stepResult{runners: n, slots: h.o.slots, rate: rate, window: h.o.window, cores: numCPU(), leader: h.sups[0].id, follower: h.sups[1].id}
	if _, err := h.collect(ctx); err != nil {
		return r, err
	}
	_, answered0, failed0 := h.feed.firstEvents()
	s0 := h.take(ctx)
	var err error
	var prof *profile
	if h.o.perf {
		file := filepath.Join(h.o.Out, fmt.Sprintf("leader-%d.perf", n))
		if prof, err = startProfile(h.ps, fmt.Sprintf("perf-%d", n), h.sups[0].proc.PID(), file, h.o.window); err != nil {
			h.say("perf: %v; no watchdog pass times", err)
			prof = nil
		}
	}
	pollCtx, stopPolls := context.WithCancel(ctx)
	var wg sync.WaitGroup
	counts := make([][]countSample, len(h.sups))
	for i, s := range h.sups {
		wg.Add(1)
		go func() { defer wg.Done(); counts[i] = pollCounts(pollCtx, s.addr) }()
	}
	var runSum, heldSum float64
	var runN int
	tick := time.NewTicker(time.Second)
	for end := time.Now().Add(h.o.window); time.Now().Before(end) && ctx.Err() == nil; {
		<-tick.C
		run, held := h.running(ctx)
		runSum, heldSum, runN = runSum+float64(run), heldSum+float64(held), runN+1
	}
	tick.Stop()
	s1 := h.take(ctx)
	stopPolls()
	wg.Wait()
	r.missed = append(s0.missed, s1.missed...)
	for _, m := range r.missed {
		h.say("step %d: not read: %s", n, m)
	}
	claims, err := h.collect(ctx)
	if err != nil {
		return r, err
	}
	seen, answered1, failed1 := h.feed.firstEvents()
	r.answered, r.failed = answered1-answered0, failed1-failed0
	if runN > 0 {
		r.running, r.held = runSum/float64(runN), heldSum/float64(runN)
	}
	r.fill(s0, s1, h)
	r.lag, r.lagSamples = map[string][2]time.Duration{}, map[string]int{}
	for i, s := range h.sups {
		lags := indexLag(counts[i], h.completions)
		r.lag[s.id] = [2]time.Duration{nearestrank.Percentile(lags, 50), nearestrank.Percentile(lags, 99)}
		r.lagSamples[s.id] = len(lags)
	}
	r.claimLatency(claims.Claims, s0.at, s1.at, seen)
	r.tickP99, r.tickMax = claims.TickLagP99MS, claims.TickLagMaxMS
	if prof != nil {
		if cp, err := prof.finish(); err != nil {
			h.say("perf: %v", err)
		} else {
			r.profile(cp, h.o)
		}
	}
	return r, nil
}

// collect takes the emulators' samples gathered since the last take,
// keeps every completion, and returns the claims (and the worst tick lag).
func (h *harness) collect(ctx context.Context) (emuStats, error) {
	var all emuStats
	for _, e := range h.emus {
		st, err := e.stats(ctx, true)
		if err != nil {
			return all, err
		}
		all.Claims = append(all.Claims, st.Claims...)
		h.completions = append(h.completions, st.Completions...)
		all.TickLagP99MS = max(all.TickLagP99MS, st.TickLagP99MS)
		all.TickLagMaxMS = max(all.TickLagMaxMS, st.TickLagMaxMS)
	}
	slices.Sort(h.completions)
	return all, nil
}

// pollCounts reads a supervisor's counts every 100 ms until ctx ends.
func pollCounts(ctx context.Context, addr string) []countSample {
	var out []countSample
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		var c struct {
			Completed int `json:"completed"`
		}
		at := time.Now()
		if err := getJSON(ctx, "http://"+addr+"/api/queue", &c); err == nil {
			out = append(out, countSample{at: at, completed: c.Completed})
		}
		select {
		case <-ctx.Done():
			return out
		case <-t.C:
		}
	}
}

// indexLag is, at each sample, how long the oldest completion the
// supervisor had not yet counted had been written (0 when it had counted
// every one): the index's lag behind the records.
func indexLag(samples []countSample, completions []int64) []time.Duration {
	lags := make([]time.Duration, 0, len(samples))
	for _, s := range samples {
		var lag time.Duration
		if s.completed < len(completions) {
			if at := time.Unix(0, completions[s.completed]); at.Before(s.at) {
				lag = s.at.Sub(at)
			}
		}
		lags = append(lags, lag)
	}
	return lags
}

// claimLatency reads the window's claims: publish (stored in the stream)
// to claim written, and claim to first event on /v1/events.
func (r *stepResult) claimLatency(claims []claimSample, from, to time.Time, seen map[string]time.Time) {
	var waiting, all, first []time.Duration
	for _, c := range claims {
		at := time.Unix(0, c.ClaimNS)
		if t, ok := seen[c.JobID]; ok {
			first = append(first, max(t.Sub(at), 0))
		}
		if at.Before(from) || at.After(to) {
			continue
		}
		d := time.Duration(c.ClaimNS - c.StoreNS)
		all = append(all, d)
		if c.Waiting {
			waiting = append(waiting, d)
		}
	}
	r.claim = [2]time.Duration{nearestrank.Percentile(waiting, 50), nearestrank.Percentile(waiting, 99)}
	r.claimAll = [2]time.Duration{nearestrank.Percentile(all, 50), nearestrank.Percentile(all, 99)}
	r.claims, r.claimsAll = len(waiting), len(all)
	r.firstEvent = [2]time.Duration{nearestrank.Percentile(first, 50), nearestrank.Percentile(first, 99)}
	r.sampled = len(first)
}

// fill turns two snapshots into the window's rates.
func (r *stepResult) fill(s0, s1 snapshot, h *harness) {
	secs := s1.at.Sub(s0.at).Seconds()
	r.cpu, r.rss = map[string]float64{}, map[string]float64{}
	for _, p := range h.ps.All() {
		if before, ok := s0.cpu[p.Name]; ok {
			r.cpu[p.Name] = (s1.cpu[p.Name] - before) / secs
			r.rss[p.Name], _ = procRSS(p.PID())
		}
	}
	r.harness = (s1.harness - s0.harness) / secs
	r.machine = (s1.machine - s0.machine) / secs
	r.sends = map[string]float64{}
	inBoth(s0.emu, s1.emu, func(_ string, c0, c1 map[string]int64) {
		r.emusRead++
		inBoth(c0, c1, func(kind string, v0, v1 int64) { r.sends[kind] += float64(v1-v0) / secs })
	})
	r.errors = r.sends["error"] * secs
	r.supDeliv, r.supSent = map[string]map[string]float64{}, map[string]float64{}
	inBoth(s0.conns, s1.conns, func(_ string, n0, n1 map[string]supConn) {
		inBoth(n0, n1, func(id string, c0, c1 supConn) {
			if r.supDeliv[id] == nil {
				r.supDeliv[id] = map[string]float64{}
			}
			inBoth(c0.subs, c1.subs, func(kind string, v0, v1 int64) { r.supDeliv[id][kind] += float64(v1-v0) / secs })
			r.supSent[id] += float64(c1.in-c0.in) / secs
		})
	})
	r.nodeIn, r.nodeOut = map[string]float64{}, map[string]float64{}
	inBoth(s0.varz, s1.varz, func(name string, v0, v1 server.Varz) {
		r.nodeIn[name] = float64(v1.InMsgs-v0.InMsgs) / secs
		r.nodeOut[name] = float64(v1.OutMsgs-v0.OutMsgs) / secs
	})
	r.supsAll = len(h.sups)
	inBoth(s0.sup, s1.sup, func(_ string, m0, m1 supMetrics) {
		r.recoveries += m1.recoveries - m0.recoveries
		r.slow += m1.slow - m0.slow
		r.supsRead++
	})
}

// inBoth calls f for each key read in both a and b: a figure missing from
// either reading has no difference over the window.
func inBoth[V any](a, b map[string]V, f func(key string, va, vb V)) {
	for k, vb := range b {
		if va, ok := a[k]; ok {
			f(k, va, vb)
		}
	}
}

// profile reads the leader's perf samples: CPU per watchdog pass and
// where the rest went.
func (r *stepResult) profile(cp cpuProfile, o options) {
	if cp.samples == 0 {
		return
	}
	r.profiled, r.profSample = true, cp.samples
	sample := time.Second / perfFreq
	passes := max(int(o.window/o.checkInterval), 1)
	r.passCPU = time.Duration(cp.pass) * sample / time.Duration(passes)
	lostPasses := max(int(o.window/lostPassEvery), 1)
	r.lostCPU = time.Duration(cp.lost) * sample / time.Duration(lostPasses)
	r.components = map[string]float64{}
	for c, n := range cp.byComponent {
		r.components[c] = float64(n) / float64(cp.samples)
	}
}

// lostPassEvery is the supervisor's runner-loss pass interval at its
// default lost threshold (6 s / 4).
const lostPassEvery = 1500 * time.Millisecond
