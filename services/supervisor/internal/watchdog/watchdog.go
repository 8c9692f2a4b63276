// Package watchdog finds deliveries that are alive to JetStream (their
// runner keeps sending in-progress acks) but not getting anywhere, and takes
// the job away from them: the original app's watchdog, across processes.
//
// Two rules, checked every CYBERIMAGE_CHECK_INTERVAL (and a third, runner loss, checked
// every few seconds by LostPass):
//   - stalled: the delivery has been processing longer than MaxStalled,
//     measured from the start of this delivery (not from the last update,
//     the original's mistake);
//   - silent: no progress event for MaxSilent while in-progress acks still
//     arrive: a heartbeat without a pulse;
//   - runner lost: the runner holding the delivery stopped its heartbeats
//     for LostAfter, or came back as another incarnation: its work returns
//     to the queue at once rather than when AckWait runs out.
//
// A runner that stalls twice within RecoveryCooldown is ordered to reload
// its models, at most once per cooldown; it is unhealthy, and takes no new
// work, until its heartbeat shows the reload done (or comes from a new
// incarnation of the runner, which loaded its models afresh: the order is
// void). The stalls and orders are kept in KV, so a new leader remembers
// them.
package watchdog

import (
	"context"
	"cyberimage/shared/tracing"
	"fmt"
	"time"

	"go.uber.org/zap"

	"cyberimage/services/supervisor/internal/acks"
	"cyberimage/services/supervisor/internal/index"
	"cyberimage/services/supervisor/internal/leaderpass"
	"cyberimage/services/supervisor/internal/recoveries"
	"cyberimage/services/supervisor/internal/tracker"
	"cyberimage/shared/bus"
)

// Jobs lists the jobs in processing.
type Jobs interface{ Processing() []index.Entry }

// Progress returns a job's latest progress event, stamped with the time
// the supervisor received it.
type Progress interface {
	Progress(jobID string) (tracker.Progress, bool)
}

// Pulses says when a delivery's run last advanced, by its runner's own
// heartbeats; reported is false for a runner whose heartbeats carry no
// steps (older than pulses), whose events are read instead.
type Pulses interface {
	Pulse(jobID, delivery, runner string) (advancedAt time.Time, reported bool)
}

// Runners gives a runner's latest heartbeat, if it is alive.
type Runners interface {
	Heartbeat(runner string) (bus.Heartbeat, bool)
}

// Liveness says whether the runner process holding a delivery is gone.
type Liveness interface {
	Gone(runner, boot string, lostAfter time.Duration) (why string, gone bool)
	// Orphans returns, once each, the deliveries gone runner processes
	// held, claimed or not.
	Orphans(lostAfter time.Duration) []tracker.Orphan
}

// Actions carries out the watchdog's decisions.
type Actions interface {
	// Recover takes a job away from its delivery; false when the record
	// moved on meanwhile (the job completed, say) and nothing was done.
	Recover(ctx context.Context, e index.Entry, kind, reason string) (bool, error)
	// Reload orders a runner to reload its models; id names the order.
	Reload(ctx context.Context, runner, id, reason string) error
	// HandBack returns a gone runner's unclaimed delivery to the queue at
	// once; false when there was nothing to do.
	HandBack(ctx context.Context, runner string, held bus.HeldJob) (bool, error)
}

// Params configure a Watchdog.
type Params struct {
	Jobs      Jobs
	Acks      acks.Source
	Progress  Progress
	Pulses    Pulses
	Actions   Actions
	Log       *recoveries.Log
	Histories Histories
	Runners   Runners
	// Liveness and LostAfter drive the runner-loss rule (LostPass): off
	// when either is unset.
	Liveness         Liveness
	LostAfter        time.Duration
	MaxStalled       time.Duration
	MaxSilent        time.Duration
	RecoveryCooldown time.Duration
	AckWait          time.Duration
	leaderpass.Deps
}

// Watchdog judges the jobs in processing; the supervisor runs its Pass
// every CYBERIMAGE_CHECK_INTERVAL while it leads.
type Watchdog struct{ p Params }

// New makes a Watchdog.
func New(p Params) *Watchdog {
	p.Deps = p.For("watchdog")
	return &Watchdog{p: p}
}

// Pass checks every job in processing once.
func (w *Watchdog) Pass(ctx context.Context) { w.runOnce(ctx) }

// Unhealthy reports whether a runner is quarantined now: it says so
// itself, or it was ordered to reload and has not yet shown it did.
func (w *Watchdog) Unhealthy(runner string) bool {
	hb, alive := w.p.Runners.Heartbeat(runner)
	if alive && hb.Quarantined {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	h, err := w.p.Histories.Get(ctx, runner)
	if err != nil {
		return false
	}
	return reloadPending(h, hb)
}

// reloadPending: a reload was ordered and the runner's heartbeat does not
// yet report it done, nor come from a process started since.
func reloadPending(h History, hb bus.Heartbeat) bool {
	return h.ReloadOrder != "" && hb.LastReload != h.ReloadOrder && !reloadVoid(h, hb)
}

// reloadVoid: the heartbeat comes from another incarnation of the runner
// than the one the reload was ordered to (restarted by its process
// manager, it loaded its models afresh). Orders kept before boots were
// recorded are never void.
func reloadVoid(h History, hb bus.Heartbeat) bool {
	return h.ReloadBoot != "" && hb.Boot != "" && hb.Boot != h.ReloadBoot
}

// verdict is what the rules say about one delivery.
type verdict struct {
	kind, reason string
	elapsed      time.Duration
}

// judge applies the two rules to one job in processing.
func (w *Watchdog) judge(e index.Entry, now time.Time) (verdict, bool) {
	if e.Delivery == nil || e.RunStartedAt.IsZero() {
		return verdict{}, false
	}
	// The run clock starts when the server stored the claim, which the
	// runner makes as the run begins: time spent waiting in a runner's
	// prefetch buffer is not processing.
	elapsed := now.Sub(e.RunStartedAt)
	if elapsed > w.p.MaxStalled {
		return verdict{recoveries.KindStalled, fmt.Sprintf("processing for %s on delivery %s, over max_stalled_time %s",
			elapsed.Round(time.Second), e.Delivery.Token(), w.p.MaxStalled), elapsed}, true
	}
	if w.p.MaxSilent <= 0 {
		return verdict{}, false
	}
	lastProgress := e.RunStartedAt
	advanced, reported := time.Time{}, false
	if w.p.Pulses != nil {
		advanced, reported = w.p.Pulses.Pulse(e.JobID, e.Delivery.Token(), e.Delivery.Runner)
	}
	switch {
	case reported:
		// The runner's own heartbeats say how far it is: no event, which
		// any runner may publish for any job, can keep it looking alive.
		if advanced.After(lastProgress) {
			lastProgress = advanced
		}
	default:
		if p, ok := w.p.Progress.Progress(e.JobID); ok && p.Delivery == e.Delivery.Token() && p.ReceivedAt.After(lastProgress) {
			lastProgress = p.ReceivedAt
		}
	}
	acksFlowing := acks.KeptAlive(w.p.Acks, e.Delivery.Token(), now, w.p.AckWait)
	if silent := now.Sub(lastProgress); silent > w.p.MaxSilent && acksFlowing {
		return verdict{recoveries.KindSilent, fmt.Sprintf("no progress for %s on delivery %s while in-progress acks continue, over max_silent_time %s",
			silent.Round(time.Second), e.Delivery.Token(), w.p.MaxSilent), elapsed}, true
	}
	return verdict{}, false
}

// runOnce checks every job in processing once and returns how many it
// recovered.
func (w *Watchdog) runOnce(ctx context.Context) int {
	now := w.p.Now()
	w.repeatReloads(ctx)
	recovered := 0
	for _, e := range w.p.Jobs.Processing() {
		v, stalled := w.judge(e, now)
		if !stalled {
			continue
		}
		done, err := w.p.Actions.Recover(ctx, e, v.kind, v.reason)
		if err != nil {
			w.p.Logger.Warn("recover job", zap.String("job_id", e.JobID), zap.Error(err))
			continue
		}
		if !done {
			continue
		}
		recovered++
		w.p.Log.Add(recoveries.Recovery{At: now, Kind: v.kind, JobID: e.JobID, Runner: e.Runner, Attempt: e.Attempts,
			Delivery: e.Delivery.Token(), Reason: v.reason, ElapsedSeconds: v.elapsed.Seconds()})
		w.p.Logger.Warn("job taken from a stalled delivery", tracing.LogFieldsOf(e.Traceparent, zap.String("job_id", e.JobID), zap.String("runner", e.Runner),
			zap.Int("attempt", e.Attempts), zap.String("rule", v.kind), zap.String("reason", v.reason))...)
		w.noteStall(ctx, e.Runner, e.Delivery.Boot, now)
	}
	return recovered
}

// noteStall counts a stall against a runner and orders an emergency reload
// when it stalls again within the cooldown, at most once per cooldown,
// addressed to the process that stalled (boot; its heartbeat's when the
// delivery names none).
func (w *Watchdog) noteStall(ctx context.Context, runner, boot string, now time.Time) {
	if boot == "" {
		hb, _ := w.p.Runners.Heartbeat(runner)
		boot = hb.Boot
	}
	var due bool
	var stalls int
	h, err := w.p.Histories.Update(ctx, runner, func(h *History) {
		recent := h.Stalls[:0]
		for _, t := range h.Stalls {
			if now.Sub(t) < w.p.RecoveryCooldown {
				recent = append(recent, t)
			}
		}
		h.Stalls = append(recent, now)
		stalls = len(h.Stalls)
		due = stalls >= 2 && (h.LastEmergency.IsZero() || now.Sub(h.LastEmergency) >= w.p.RecoveryCooldown)
		if due {
			h.LastEmergency = now
			h.ReloadOrder = fmt.Sprintf("%s@%d", runner, now.UnixNano())
			h.ReloadBoot = boot
		}
	})
	if err != nil {
		w.p.Logger.Warn("record stall in runner history", zap.String("runner", runner), zap.Error(err))
		return
	}
	if !due {
		return
	}
	reason := fmt.Sprintf("%d stalls within recovery_cooldown %s", stalls, w.p.RecoveryCooldown)
	if err := w.p.Actions.Reload(ctx, runner, h.ReloadOrder, reason); err != nil {
		w.p.Logger.Warn("order model reload", zap.String("runner", runner), zap.Error(err))
	}
	w.p.Log.Add(recoveries.Recovery{At: now, Kind: recoveries.KindEmergency, Runner: runner, Reason: reason})
	w.p.Logger.Error("emergency recovery: runner quarantined until its model reload succeeds", zap.String("runner", runner), zap.String("reason", reason))
}

// repeatReloads sends again every reload order a live runner has not yet
// reported done: orders travel on core NATS and one may be lost.
func (w *Watchdog) repeatReloads(ctx context.Context) {
	pending, err := w.p.Histories.Pending(ctx)
	if err != nil {
		w.p.Logger.Warn("list runner histories", zap.Error(err))
		return
	}
	for runner, h := range pending {
		hb, alive := w.p.Runners.Heartbeat(runner)
		if alive && reloadVoid(h, hb) {
			w.voidReload(ctx, runner, h, hb.Boot)
			continue
		}
		if !alive || !reloadPending(h, hb) || hb.Quarantined {
			continue // gone, done, or reloading now
		}
		if err := w.p.Actions.Reload(ctx, runner, h.ReloadOrder, "repeated: reload not yet reported done"); err != nil {
			w.p.Logger.Warn("repeat model reload order", zap.String("runner", runner), zap.Error(err))
		}
	}
}

// voidReload forgets a reload order once the runner it was addressed to
// has been replaced by a new incarnation, so it is neither repeated to
// the new process nor shown as pending.
func (w *Watchdog) voidReload(ctx context.Context, runner string, h History, boot string) {
	_, err := w.p.Histories.Update(ctx, runner, func(cur *History) {
		if cur.ReloadOrder == h.ReloadOrder {
			cur.ReloadOrder, cur.ReloadBoot = "", ""
		}
	})
	if err != nil {
		w.p.Logger.Warn("forget a void reload order", zap.String("runner", runner), zap.Error(err))
		return
	}
	w.p.Logger.Info("reload order void: the runner restarted since", zap.String("runner", runner), zap.String("order", h.ReloadOrder),
		zap.String("ordered_to", h.ReloadBoot), zap.String("boot", boot))
}
