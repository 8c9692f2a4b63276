package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"cyberimage/shared/bus"
)

// kind is a kind of fault.
type kind int

const (
	runnerKilled kind = iota
	runnerFrozen
	natsFrozen
)

func (k kind) String() string {
	return [...]string{"runner killed (-9)", "runner frozen (SIGSTOP)", "NATS node frozen (SIGSTOP)"}[k]
}

// fault is one fault as injected: what, when, and what it caught.
type fault struct {
	n    int
	kind kind
	// target is the runner or the NATS node; note says what else it was
	// (the node's role and clients).
	target, note string
	at           time.Time        // the signal was sent
	end          time.Time        // the runner back, or the node thawed and its cluster formed again
	held         map[string]claim // the jobs the runner had claimed at the fault
}

// schedule is the faults in a shuffled order: the kinds mixed through the
// run, so none always meets a fresh or a tired stack.
func schedule(rng *rand.Rand, kills, freezes, natsFreezes int) []kind {
	var kinds []kind
	for k, n := range []int{kills, freezes, natsFreezes} {
		for range n {
			kinds = append(kinds, kind(k))
		}
	}
	rng.Shuffle(len(kinds), func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })
	return kinds
}

// injector injects one fault at a time and waits until the stack is whole
// again before the next.
type injector struct {
	o      options
	say    func(string, ...any)
	c      *cluster
	f      *fleet
	js     jetstream.JetStream
	ledger *ledger
	rng    *rand.Rand // this goroutine's alone
	total  int
}

func (in *injector) inject(ctx context.Context, f *fault) error {
	switch f.kind {
	case runnerKilled:
		return in.killRunner(ctx, f)
	case runnerFrozen:
		return in.freezeRunner(ctx, f)
	default:
		return in.freezeNATS(ctx, f)
	}
}

// pickHolder is a random runner among those holding a claimed job now,
// waiting (up to a minute) until one does.
func (in *injector) pickHolder(ctx context.Context) (string, map[string]claim, error) {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		names := slices.Clone(in.f.names)
		in.rng.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
		for _, id := range names {
			if held := in.ledger.heldBy(id); len(held) > 0 {
				return id, held, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "", nil, errors.New("no runner held a job for a minute: is the load running?")
}

func (in *injector) killRunner(ctx context.Context, f *fault) error {
	id, held, err := in.pickHolder(ctx)
	if err != nil {
		return err
	}
	f.target, f.held = id, held
	f.at = time.Now()
	in.f.runner(id).Kill()
	if in.o.restartAtOnce {
		if err := in.f.startRunner(ctx, id); err != nil {
			return err
		}
	}
	again, _ := in.runningAgain(ctx, f, time.Minute)
	in.say("fault %d/%d: killed %s holding %s; %s", f.n, in.total, id, describeHeld(held, f.at), again)
	if !in.o.restartAtOnce {
		// The host comes back once its work has moved: the fleet is
		// whole again for the next fault.
		if err := in.f.startRunner(ctx, id); err != nil {
			return err
		}
	}
	f.end = time.Now()
	return nil
}

func (in *injector) freezeRunner(ctx context.Context, f *fault) error {
	id, held, err := in.pickHolder(ctx)
	if err != nil {
		return err
	}
	f.target, f.held = id, held
	p := in.f.runner(id)
	f.at = time.Now()
	if err := p.Freeze(); err != nil {
		return err
	}
	again, all := in.runningAgain(ctx, f, in.o.freezeFor)
	sleepUntil(ctx, f.at.Add(in.o.freezeFor))
	if err := p.Thaw(); err != nil {
		return err
	}
	if !all {
		again, _ = in.runningAgain(ctx, f, time.Minute)
	}
	// The thawed runner still holds the old delivery's run: its result
	// must be dropped once it finishes, by the record's fence.
	deadline := time.Now().Add(2 * time.Minute)
	for jobID := range held {
		for !in.ledger.ended(jobID) && time.Now().Before(deadline) && ctx.Err() == nil {
			time.Sleep(100 * time.Millisecond)
		}
	}
	in.say("fault %d/%d: froze %s for %s holding %s; %s; thawed; %s", f.n, in.total, id, in.o.freezeFor, describeHeld(held, f.at),
		again, in.lateResults(f))
	f.end = time.Now()
	return nil
}

// natsAftermath is how long after a NATS node's thaw its fault's window
// stays open.
const natsAftermath = 30 * time.Second

// freezeNATS freezes the node leading the job records' bucket, which every
// claim and completion writes to: the worst node to lose.
func (in *injector) freezeNATS(ctx context.Context, f *fault) error {
	bucket := "KV_" + bus.BucketJobs
	i, err := in.c.leaderOf(ctx, in.js, bucket)
	if err != nil {
		return err
	}
	p := in.c.Procs[i]
	f.target = in.c.Nodes[i].Name
	f.note = fmt.Sprintf("leader of %s, %d client connections", bucket, in.c.clientConnections(i))
	f.at = time.Now()
	if err := p.Freeze(); err != nil {
		return err
	}
	sleepUntil(ctx, f.at.Add(in.o.natsFreezeFor))
	if err := p.Thaw(); err != nil {
		return err
	}
	thawed := time.Now()
	if err := in.c.waitFormed(ctx, time.Minute); err != nil {
		return fmt.Errorf("cluster after thawing %s: %w", f.target, err)
	}
	formed := time.Since(thawed)
	// The window runs on after the thaw: a client whose pull or watch
	// sat on the frozen node may find out only when its own heartbeat
	// check gives up, and the pause that causes is this fault's. It ends
	// once completions flow after that (or a minute).
	sleepUntil(ctx, thawed.Add(natsAftermath))
	deadline := time.Now().Add(time.Minute)
	for in.ledger.lastDone().Before(thawed.Add(natsAftermath)) && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(100 * time.Millisecond)
	}
	f.end = time.Now()
	_, done := in.ledger.snapshot()
	in.say("fault %d/%d: froze NATS node %s (%s) for %s; formed again %.1fs after the thaw; longest pause in completions %.1fs",
		f.n, in.total, f.target, f.note, in.o.natsFreezeFor, formed.Seconds(), longestPause(done, f.at, f.end).Seconds())
	return nil
}

// runningAgain waits up to limit after the fault until every job it
// caught is claimed by another delivery; it says where and when, and
// whether all were.
func (in *injector) runningAgain(ctx context.Context, f *fault, limit time.Duration) (string, bool) {
	deadline := f.at.Add(limit)
	all := true
	var parts []string
	for id, c := range f.held {
		for {
			if next, ok := in.ledger.claimAfter(id, c); ok {
				parts = append(parts, fmt.Sprintf("%s running again on %s after %.1fs", short(id), runnerOf(next, c), next.at.Sub(f.at).Seconds()))
				break
			}
			if !time.Now().Before(deadline) || ctx.Err() != nil {
				parts = append(parts, fmt.Sprintf("%s not running again after %s", short(id), limit))
				all = false
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, "; "), all
}

// lateResults says whether the frozen delivery's result was dropped.
func (in *injector) lateResults(f *fault) string {
	var parts []string
	for id, c := range f.held {
		by := in.ledger.completionsOf(id)
		late := 0
		for _, d := range by {
			if d.same(c) {
				late++
			}
		}
		switch {
		case len(by) == 0:
			parts = append(parts, short(id)+" not completed yet")
		case late > 0:
			parts = append(parts, fmt.Sprintf("%s: the frozen runner's late result was KEPT (%d completion(s))", short(id), len(by)))
		default:
			parts = append(parts, fmt.Sprintf("%s: late result dropped (completed %d time(s), by %s)", short(id), len(by), by[len(by)-1].runner))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, "; ")
}

// describeHeld names the held jobs and how long each had run.
func describeHeld(held map[string]claim, at time.Time) string {
	var parts []string
	for id, c := range held {
		parts = append(parts, fmt.Sprintf("%s (claimed %.1fs before)", short(id), at.Sub(c.at).Seconds()))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// runnerOf names the claiming runner, marking a new process under the
// same name.
func runnerOf(next, old claim) string {
	if next.runner == old.runner && next.boot != old.boot {
		return next.runner + " (restarted)"
	}
	return next.runner
}

func short(id string) string { return id[:min(len(id), 10)] + "…" }

func sleepUntil(ctx context.Context, t time.Time) {
	select {
	case <-ctx.Done():
	case <-time.After(time.Until(t)):
	}
}
