package tracker

import (
	"time"

	"go.uber.org/zap"
)

// The maps hold one entry per runner id and per job id heard on the bus,
// and anyone allowed to publish there may make up ids. Nothing else bounds
// them (/status's Forget runs only when someone asks), so the tracker
// prunes them by age on its own ticker and caps them by count.
const (
	// pruneEvery: how often entries are pruned by age. Readers judge age
	// themselves (Runners, Heartbeat), so a late prune keeps memory a
	// minute longer and never shows a stale entry as fresh.
	pruneEvery = time.Minute
	// runnerRetentionTimeouts: a runner silent for this many runner
	// timeouts is forgotten; until then /status lists it as lost. One that
	// still heartbeats is never that old.
	runnerRetentionTimeouts = 10
	// DefaultProgressRetention: a progress event received longer ago is
	// pruned. The watchdog reads an event only for the delivery it names,
	// and a delivery whose last event is older than max_stalled_time has
	// run longer than that and is recovered by the stall rule whatever
	// the event says (the silence rule, max_silent_time, is shorter
	// still). An hour is four times the default max_stalled_time (15 m)
	// and twelve times max_silent_time (5 m); a supervisor configured to
	// wait longer passes WithProgressRetention.
	DefaultProgressRetention = time.Hour
	// maxRunners caps the runners map, well above a fleet of thousands of
	// GPUs: a runner refused here would have its work taken away as lost.
	// Heartbeats over maxTrackedBytes are dropped, so the map holds at
	// most 256 MiB even when every heartbeat is that large (a few KiB in
	// practice).
	maxRunners = 16384
	// maxProgress caps the progress map. Only running jobs send events,
	// at most the runners' slots (a few per runner, under maxRunners), and
	// a job's own events keep it the newest entry: the oldest, pushed out
	// first, are jobs whose final event was lost. A few hundred bytes
	// each, 1 GiB if every event were as large as maxTrackedBytes.
	maxProgress = 65536
	// maxTrackedBytes bounds one heartbeat or event the tracker keeps.
	maxTrackedBytes = 16 << 10
)

// limits are the bounds in force; tests shrink them.
type limits struct {
	maxRunners, maxProgress int
	progressRetention       time.Duration
}

func defaultLimits() limits {
	return limits{maxRunners: maxRunners, maxProgress: maxProgress, progressRetention: DefaultProgressRetention}
}

// WithProgressRetention sets how long a job's latest progress event is
// kept after it was received: it must exceed the watchdog's
// max_stalled_time (DefaultProgressRetention if not given, or if d is not
// positive).
func WithProgressRetention(d time.Duration) Option {
	return func(t *Tracker) {
		if d > 0 {
			t.limits.progressRetention = d
		}
	}
}

// evictionKind names one way an entry leaves a map to keep it bounded.
type evictionKind int

const (
	runnersExpired  evictionKind = iota // silent for runnerRetention
	runnersEvicted                      // the oldest, a lost runner, pushed out at the cap
	runnersRefused                      // a new runner not kept: at the cap, every runner kept is alive
	progressExpired                     // older than the progress retention
	progressEvicted                     // the oldest pushed out at the cap
	numEvictions
)

var evictionNames = [numEvictions]struct{ Map, Reason string }{
	runnersExpired:  {"runners", "expired"},
	runnersEvicted:  {"runners", "evicted"},
	runnersRefused:  {"runners", "refused"},
	progressExpired: {"progress", "expired"},
	progressEvicted: {"progress", "evicted"},
}

// Eviction counts the entries one map let go of for one reason, to stay
// bounded, since the tracker was made.
type Eviction struct {
	Map    string // "runners" or "progress"
	Reason string // "expired" (aged out), "evicted" (pushed out at the cap), "refused" (not kept at the cap)
	Count  int64
}

// Evictions lists every count, at zero until it happens, for /metrics.
// Entries that leave because their job ended are not counted.
func (t *Tracker) Evictions() []Eviction {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]Eviction, numEvictions)
	for k, n := range evictionNames {
		out[k] = Eviction{Map: n.Map, Reason: n.Reason, Count: t.evicted[k]}
	}
	return out
}

// Sizes is how many runners and jobs' progress the tracker holds now.
func (t *Tracker) Sizes() (runners, progress int) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.runners.len(), t.progress.len()
}

func (t *Tracker) runnerRetention() time.Duration { return runnerRetentionTimeouts * t.runnerTimeout }

// makeRoomForRunner says whether runner may be kept, pushing out the
// runner heard least recently if the map is full. A runner still alive is
// never pushed out: while every runner kept is alive, a new one is
// refused, so a flood of made-up ids cannot hide the real fleet. Call with
// t.mu held.
func (t *Tracker) makeRoomForRunner(runner string, now time.Time) bool {
	if t.runners.has(runner) || t.runners.len() < t.limits.maxRunners {
		return true
	}
	oldest, at, _ := t.runners.oldest()
	if now.Sub(at) <= t.runnerTimeout {
		t.evicted[runnersRefused]++
		return false
	}
	t.runners.remove(oldest)
	t.evicted[runnersEvicted]++
	return true
}

// makeRoomForProgress pushes out the job whose latest event is the oldest
// if the map is full and job is new to it. Call with t.mu held.
func (t *Tracker) makeRoomForProgress(job string) {
	if t.progress.has(job) || t.progress.len() < t.limits.maxProgress {
		return
	}
	oldest, _, _ := t.progress.oldest()
	t.progress.remove(oldest)
	t.evicted[progressEvicted]++
}

// prune is the ticker's pass: it drops runners silent for runnerRetention
// and progress received longer than the retention ago, and returns how
// many of each. It says once a pass if the caps pushed anything out since
// the last one: that is a flood of ids, or a fleet outgrowing the caps.
func (t *Tracker) prune() (runners, progress int) {
	now := t.now()
	t.mu.Lock()
	runners = t.runners.dropHeardBefore(now.Add(-t.runnerRetention()))
	progress = t.progress.dropHeardBefore(now.Add(-t.limits.progressRetention))
	progress += t.dropPulsesHeardBefore(now.Add(-t.runnerRetention()))
	for runner := range t.handedBack {
		if !t.runners.has(runner) {
			delete(t.handedBack, runner) // its runner was pruned: nothing left to hand back
		}
	}
	t.evicted[runnersExpired] += int64(runners)
	t.evicted[progressExpired] += int64(progress)
	capped := [3]int64{t.evicted[runnersEvicted], t.evicted[runnersRefused], t.evicted[progressEvicted]}
	sinceLast := capped != t.lastCapped
	t.lastCapped = capped
	t.mu.Unlock()
	if sinceLast {
		t.log.Warn("tracker at its caps: entries pushed out or refused (see the tracker eviction counts)",
			zap.Int64("runners_evicted", capped[0]), zap.Int64("runners_refused", capped[1]), zap.Int64("progress_evicted", capped[2]),
			zap.Int("max_runners", t.limits.maxRunners), zap.Int("max_progress", t.limits.maxProgress))
	}
	if runners+progress > 0 {
		t.log.Debug("tracker pruned", zap.Int("runners", runners), zap.Int("progress", progress))
	}
	return runners, progress
}
