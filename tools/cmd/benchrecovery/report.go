package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"cyberimage/shared/bus"
	"cyberimage/tools/internal/nearestrank"
)

// setup is what the report says about the run's conditions.
type setup struct {
	started          time.Time
	cores            int
	o                options
	jobTime          time.Duration // median model run + upload, all runners busy (warm-up)
	capacity, rate   float64       // jobs/s
	baselinePause    time.Duration // longest pause in completions under load before the first fault
	faultsPause      time.Duration // over the whole fault phase
	took             time.Duration
	unattributedRedo int
}

func report(w io.Writer, s setup, sums []summary, t totals) {
	restart := "once its job runs elsewhere (a lost host)"
	if s.o.restartAtOnce {
		restart = "at once (a process manager on a live host)"
	}
	fmt.Fprintf(w, "\n## Recovery: %s, %d cores\n\n", s.started.UTC().Format("2006-01-02 15:04 UTC"), s.cores)
	fmt.Fprintf(w, "Three nats-server processes at R3, MinIO, supervisor, ingest and %d runners × 1 slot (fewer runners than a real fleet: "+
		"they share %d cores); demo model %d×%d, %d steps: %.1f s a job with every runner busy, capacity %.2f jobs/s, steady load %.2f jobs/s (%.0f%%). "+
		"Liveness: heartbeat 2 s, runner lost after 6 s, NATS ping %s, AckWait 60 s (the defaults unless the environment says otherwise). A killed runner comes back %s; "+
		"a frozen runner stays frozen %s; a frozen NATS node (the leader of the job records' bucket) %s. Seed %d; the run took %s.\n\n",
		s.o.runners, s.cores, s.o.size, s.o.size, s.o.steps, s.jobTime.Seconds(), s.capacity, s.rate, 100*s.o.load,
		pingInterval(), restart, s.o.freezeFor, s.o.natsFreezeFor, s.o.seed, s.took.Round(time.Second))
	fmt.Fprintln(w, "| fault | faults | jobs claimed | running again elsewhere p50 | p99 | max | jobs fetched, not started: running after, max | longest pause in completions | lost | done twice | target (all held jobs) | met |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
	for _, sum := range sums {
		ok, target := sum.met()
		verdict := "**not met**"
		if ok {
			verdict = "met"
		}
		p50, p99, mx, fetched := "—", "—", "—", "0"
		caught := fmt.Sprintf("%d", sum.caught)
		if sum.kind == natsFrozen {
			caught += " in flight"
		} else {
			p50, p99, mx = secs(nearestrank.Percentile(sum.again, 50)), secs(nearestrank.Percentile(sum.again, 99)), secs(nearestrank.Percentile(sum.again, 100))
			if sum.never > 0 {
				mx += fmt.Sprintf(" (%d never)", sum.never)
			}
		}
		if len(sum.stranded) > 0 {
			fetched = fmt.Sprintf("%d: %s", len(sum.stranded), secs(nearestrank.Percentile(sum.stranded, 100)))
		}
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s | %s | %s | %d | %d | %s | %s |\n",
			sum.kind, sum.faults, caught, p50, p99, mx, fetched, secs(sum.pause), sum.lost, sum.twice, target, verdict)
	}
	fmt.Fprintln(w)
	for _, sum := range sums {
		var notes []string
		if sum.finished > 0 {
			notes = append(notes, fmt.Sprintf("%d caught job(s) were finished by the faulted runner as the fault came", sum.finished))
		}
		if sum.kind == runnerFrozen {
			notes = append(notes, fmt.Sprintf("late results kept after the thaw: %d", sum.lateKept))
		}
		if sum.kind == natsFrozen {
			notes = append(notes, fmt.Sprintf("%d job(s) claimed again during the freezes (a runner's write timed out and it let the job go, "+
				"or the supervisor could not hear the runner)", sum.moved))
		}
		if len(sum.stranded) > 0 {
			notes = append(notes, fmt.Sprintf("%d job(s) the runner had fetched but not started (prefetched: still queued, so no rule of the "+
				"supervisor's takes them) ran %s (p50) / %s (max) after the fault, when their AckWait ran out",
				len(sum.stranded), secs(nearestrank.Percentile(sum.stranded, 50)), secs(nearestrank.Percentile(sum.stranded, 100))))
		}
		if len(notes) > 0 {
			fmt.Fprintf(w, "- %s: %s.\n", sum.kind, strings.Join(notes, "; "))
		}
	}
	fmt.Fprintf(w, "- Jobs: %d accepted, %d completed, %d lost (%d of them failed), %d done twice; %d requests never answered; "+
		"%d runs again of a claimed job in all (%d explained by the faults above).\n",
		t.accepted, t.completed, t.lost, t.failed, t.twice, t.unanswered, t.reruns, explained(sums))
	fmt.Fprintf(w, "- Longest pause in completions: %s under the same load before the first fault, %s over the fault phase.\n",
		secs(s.baselinePause), secs(s.faultsPause))
	if s.unattributedRedo > 0 {
		fmt.Fprintf(w, "- %d job(s) were first claimed on a second delivery that no fault explains.\n", s.unattributedRedo)
	}
}

// explained counts the claimed jobs the faults moved: held jobs run again,
// and jobs moved during NATS freezes.
func explained(sums []summary) int {
	n := 0
	for _, s := range sums {
		n += len(s.again) + s.moved
	}
	return n
}

func secs(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

// pingInterval is the services' NATS ping interval in this run: the
// environment's, which they inherit, or the default.
func pingInterval() string {
	if v := os.Getenv("CYBERIMAGE_NATS_PING_INTERVAL"); v != "" {
		return v
	}
	return bus.DefaultPingInterval.String()
}
