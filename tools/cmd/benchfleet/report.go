package main

import (
	"fmt"
	"io"
	"maps"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"cyberimage/shared/job"
	"cyberimage/tools/internal/benchstack"
)

func numCPU() int { return runtime.NumCPU() }

func procRSS(pid int) (float64, float64) { return benchstack.ProcRSS(pid) }

// jobKinds are the runners' messages that come with running jobs; the
// others (heartbeats, free slots' pulls) come with runners.
var jobKinds = []string{"event", "in_progress", "owner_read", "prefetch", "claim", "complete", "ack", "nak"}

func (r stepResult) sum(m map[string]float64, keys ...string) float64 {
	var s float64
	for _, k := range keys {
		s += m[k]
	}
	return s
}

func (r stepResult) busSends() float64 {
	var s float64
	for _, k := range busKinds {
		s += r.sends[kindNames[k]]
	}
	return s
}

func (r stepResult) deliveries(id string) float64 {
	var s float64
	for _, v := range r.supDeliv[id] {
		s += v
	}
	return s
}

// cpuOf sums the cores of the processes whose names begin with prefix.
func (r stepResult) cpuOf(prefix string) float64 {
	var s float64
	for name, v := range r.cpu {
		if strings.HasPrefix(name, prefix) {
			s += v
		}
	}
	return s
}

func (r stepResult) emulatorCPU() float64 { return r.cpuOf("emulator-") }

func (r stepResult) natsCPU() float64 { return r.cpuOf("nats-") }

// ours is the CPU of every process of the bench (the stack, the
// emulators, perf and the harness).
func (r stepResult) ours() float64 { return r.harness + r.cpuOf("") }

func (r stepResult) perJob(v float64) float64 {
	if r.running <= 0 {
		return 0
	}
	return v / r.running
}

func (r stepResult) oneLine() string {
	return fmt.Sprintf("%.0f jobs running; leader %.2f cores %.0f MB, follower %.2f cores; NATS %.2f cores; emulators %.2f cores (tick lag p99 %.0f ms); bench %.2f, machine %.2f of %d cores; runner msgs %.0f/s (%.2f per job); index lag p99 %s; publish→claim p99 %s",
		r.running, r.cpu["supervisor-"+r.leader], r.rss["supervisor-"+r.leader], r.cpu["supervisor-"+r.follower], r.natsCPU(),
		r.emulatorCPU(), r.tickP99, r.ours(), r.machine, r.cores, r.busSends(), r.perJob(r.busSends()), r.lag[r.leader][1].Round(time.Millisecond),
		r.claim[1].Round(time.Millisecond))
}

// machineSaturated says why this machine, rather than the control plane,
// limits the step ("" when it does not): its cores are nearly all busy, or
// the emulators wake late, so their runners no longer keep the protocol's
// time.
func (r stepResult) machineSaturated() string {
	var why []string
	if ours := r.ours(); ours >= 0.9*float64(r.cores) {
		why = append(why, fmt.Sprintf("the bench's processes use %.2f of %d cores", ours, r.cores))
	}
	if r.tickP99 > 50 {
		why = append(why, fmt.Sprintf("emulators wake %.0f ms late (p99)", r.tickP99))
	}
	return strings.Join(why, "; ")
}

// saturations lists, in the order they are judged, every limit the step
// ran into.
func (r stepResult) saturations() []string {
	var out []string
	if why := r.machineSaturated(); why != "" {
		out = append(out, "this machine: "+why)
	}
	if r.slow > 0 {
		out = append(out, fmt.Sprintf("supervisor dropped messages (%.0f slow-consumer errors)", r.slow))
	}
	if r.recoveries > 0 {
		out = append(out, fmt.Sprintf("%.0f jobs taken away (runners judged lost or stalled)", r.recoveries))
	}
	if l := r.lag[r.leader][1]; l > time.Second {
		out = append(out, fmt.Sprintf("leader's index %s behind (p99)", l.Round(time.Millisecond)))
	}
	if c := r.cpu["supervisor-"+r.leader]; c > 0.5 {
		out = append(out, fmt.Sprintf("leader at %.2f cores", c))
	}
	if r.claim[1] > 100*time.Millisecond {
		out = append(out, fmt.Sprintf("publish → claim p99 %s", r.claim[1].Round(time.Millisecond)))
	}
	if r.failed > 0 {
		out = append(out, fmt.Sprintf("%d requests unanswered", r.failed))
	}
	if len(r.missed) > 0 {
		out = append(out, fmt.Sprintf("%d figures not read in time (%s)", len(r.missed), r.missed[0]))
	}
	return out
}

// notRead stands for a figure not read at both ends of a step's window.
const notRead = "—"

func durs(d [2]time.Duration, n int) string {
	if n == 0 {
		return "–"
	}
	return fmt.Sprintf("%s / %s (n=%d)", d[0].Round(time.Millisecond), d[1].Round(time.Millisecond), n)
}

// report prints the steps as a table, the targets, what saturated, and
// the costs per runner and per running job with the 10,000-GPU estimate.
func report(w io.Writer, o options, mean time.Duration, rs []stepResult) {
	fmt.Fprintf(w, "\n## bench-fleet: %d cores, %d slots per runner, load %.0f%%, %d steps per job (mean model time %.1fs), PUT %v, window %s after %s warm-up\n\n",
		numCPU(), o.slots, o.load*100, o.steps, mean.Seconds(), o.put, o.window, o.warmup)
	if len(rs) == 0 {
		fmt.Fprintln(w, "no step was measured")
		return
	}
	var head strings.Builder
	head.WriteString("| figure |")
	for _, r := range rs {
		fmt.Fprintf(&head, " %d × %d |", r.runners, r.slots)
	}
	fmt.Fprintln(w, head.String())
	fmt.Fprintln(w, "|---|"+strings.Repeat("---|", len(rs)))
	row := func(name string, f func(r stepResult) string) {
		var b strings.Builder
		fmt.Fprintf(&b, "| %s |", name)
		for _, r := range rs {
			fmt.Fprintf(&b, " %s |", f(r))
		}
		fmt.Fprintln(w, b.String())
	}
	f2 := func(v float64) string { return fmt.Sprintf("%.2f", v) }
	f0 := func(v float64) string { return fmt.Sprintf("%.0f", v) }
	row("jobs fed /s", func(r stepResult) string { return fmt.Sprintf("%.1f", r.rate) })
	row("jobs running (held incl. prefetched)", func(r stepResult) string { return fmt.Sprintf("%.0f (%.0f)", r.running, r.held) })
	row("supervisor leader: cores, RSS MB", func(r stepResult) string {
		return fmt.Sprintf("%.2f, %.0f", r.cpu["supervisor-"+r.leader], r.rss["supervisor-"+r.leader])
	})
	row("supervisor follower: cores, RSS MB", func(r stepResult) string {
		return fmt.Sprintf("%.2f, %.0f", r.cpu["supervisor-"+r.follower], r.rss["supervisor-"+r.follower])
	})
	for _, n := range []string{"nats-n1", "nats-n2", "nats-n3"} {
		row(n+": cores, RSS MB", func(r stepResult) string { return fmt.Sprintf("%.2f, %.0f", r.cpu[n], r.rss[n]) })
	}
	row("ingest, MinIO: cores", func(r stepResult) string { return fmt.Sprintf("%.2f, %.2f", r.cpu["ingest"], r.cpu["minio"]) })
	row("emulators: cores (tick lag p99/max ms)", func(r stepResult) string {
		return fmt.Sprintf("%.2f (%.0f/%.0f)", r.emulatorCPU(), r.tickP99, r.tickMax)
	})
	row("harness (feed, probes): cores", func(r stepResult) string { return f2(r.harness) })
	row("bench's processes / machine busy (all tenants): cores", func(r stepResult) string {
		return fmt.Sprintf("%.2f / %.2f of %d", r.ours(), r.machine, r.cores)
	})
	// A figure not read at both ends of the window shows as notRead.
	sends := func(f func(r stepResult) string) func(r stepResult) string {
		return func(r stepResult) string {
			if r.emusRead == 0 {
				return notRead
			}
			return f(r)
		}
	}
	deliv := func(r stepResult, id string, f func() string) string {
		if r.supDeliv[id] == nil {
			return notRead
		}
		return f()
	}
	for _, k := range busKinds {
		name := kindNames[k]
		row("runners send /s: "+name, sends(func(r stepResult) string { return f0(r.sends[name]) }))
	}
	row("runners send /s: all", sends(func(r stepResult) string { return f0(r.busSends()) }))
	row("runner messages per running job /s", sends(func(r stepResult) string { return f2(r.perJob(r.busSends())) }))
	row("S3 PUTs /s", sends(func(r stepResult) string { return f0(r.sends["s3_put"]) }))
	for _, k := range []string{"event", "ack", "heartbeat", "inbox", "other"} {
		row("leader delivered /s: "+k, func(r stepResult) string {
			return deliv(r, r.leader, func() string { return f0(r.supDeliv[r.leader][k]) })
		})
	}
	row("leader delivered /s: all (per running job)", func(r stepResult) string {
		return deliv(r, r.leader, func() string {
			return fmt.Sprintf("%.0f (%.2f)", r.deliveries(r.leader), r.perJob(r.deliveries(r.leader)))
		})
	})
	row("follower delivered /s: all", func(r stepResult) string {
		return deliv(r, r.follower, func() string { return f0(r.deliveries(r.follower)) })
	})
	row("heartbeats handled /s: leader, follower", func(r stepResult) string {
		return deliv(r, r.leader, func() string { return f0(r.supDeliv[r.leader]["heartbeat"]) }) + ", " +
			deliv(r, r.follower, func() string { return f0(r.supDeliv[r.follower]["heartbeat"]) })
	})
	row("NATS msgs in/out /s, 3 nodes", func(r stepResult) string {
		if len(r.nodeIn) == 0 {
			return notRead
		}
		s := fmt.Sprintf("%.0f / %.0f", r.sum(r.nodeIn, "n1", "n2", "n3"), r.sum(r.nodeOut, "n1", "n2", "n3"))
		if len(r.nodeIn) < 3 {
			s += fmt.Sprintf(" (%d nodes read)", len(r.nodeIn))
		}
		return s
	})
	row("index lag p50 / p99: leader", func(r stepResult) string { return durs(r.lag[r.leader], r.lagSamples[r.leader]) })
	row("index lag p50 / p99: follower", func(r stepResult) string { return durs(r.lag[r.follower], r.lagSamples[r.follower]) })
	row("publish → claim p50 / p99, slot waiting", func(r stepResult) string { return durs(r.claim, r.claims) })
	row("publish → claim p50 / p99, every claim", func(r stepResult) string { return durs(r.claimAll, r.claimsAll) })
	row("claim → first event on /v1/events p50 / p99", func(r stepResult) string { return durs(r.firstEvent, r.sampled) })
	row("watchdog pass, leader CPU per pass (perf)", func(r stepResult) string {
		if !r.profiled {
			return "–"
		}
		return fmt.Sprintf("%.1f ms", job.Millis(r.passCPU)) + resolution
	})
	row("runner-loss pass, CPU per pass (perf)", func(r stepResult) string {
		if !r.profiled {
			return "–"
		}
		return fmt.Sprintf("%.2f ms", job.Millis(r.lostCPU)) + resolution
	})
	row("leader CPU by component (perf, top 4)", func(r stepResult) string { return topComponents(r.components, 4) })
	row("jobs taken away; slow-consumer errors; errors", func(r stepResult) string {
		sup := notRead + "; " + notRead
		if r.supsRead > 0 {
			sup = fmt.Sprintf("%.0f; %.0f", r.recoveries, r.slow)
		}
		if r.supsRead > 0 && r.supsRead < r.supsAll {
			sup += fmt.Sprintf(" (%d of %d supervisors read)", r.supsRead, r.supsAll)
		}
		return sup + "; " + sends(func(r stepResult) string { return f0(r.errors) })(r)
	})
	row("requests answered / unanswered", func(r stepResult) string { return fmt.Sprintf("%d / %d", r.answered, r.failed) })

	last := rs[len(rs)-1]
	fmt.Fprintf(w, "\nFleet targets (issue 26, at 1,000 × 2 with ~1,400 running; printed, never asserted), measured at %d × %d with %.0f running:\n",
		last.runners, last.slots, last.running)
	target := func(name, want, got string) { fmt.Fprintf(w, "  %-44s %-10s measured %s\n", name, want, got) }
	target("supervisor leader CPU", "≤ 0.5", f2(last.cpu["supervisor-"+last.leader]))
	target("supervisor leader RSS", "≤ 256 MB", fmt.Sprintf("%.0f MB", last.rss["supervisor-"+last.leader]))
	target("supervisor follower CPU", "≤ 0.25", f2(last.cpu["supervisor-"+last.follower]))
	target("publish → claim p99, slot waiting", "≤ 100 ms", last.claim[1].Round(time.Millisecond).String())
	target("index lag p99 (leader)", "≤ 1 s", last.lag[last.leader][1].Round(time.Millisecond).String())
	target("control-plane msgs per running job /s", "≤ 1", fmt.Sprintf("%.2f sent by runners, %.2f delivered to the leader",
		last.perJob(last.busSends()), last.perJob(last.deliveries(last.leader))))

	fmt.Fprintln(w, "\nWhat saturated, by step (first listed first):")
	for _, r := range rs {
		s := r.saturations()
		if len(s) == 0 {
			s = []string{"nothing"}
		}
		fmt.Fprintf(w, "  %d × %d: %s\n", r.runners, r.slots, strings.Join(s, "; "))
	}
	estimate(w, o, rs)
}

// resolution reminds that perf samples every 2 ms of CPU: a pass that
// took less is seen in some passes and not in others.
const resolution = " (±2 ms/pass)"

// topComponents lists the largest shares of the leader's CPU.
func topComponents(m map[string]float64, n int) string {
	if len(m) == 0 {
		return "–"
	}
	keys := slices.Collect(maps.Keys(m))
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] })
	var parts []string
	for _, k := range keys[:min(n, len(keys))] {
		parts = append(parts, fmt.Sprintf("%s %.0f%%", k, 100*m[k]))
	}
	return strings.Join(parts, ", ")
}

// estimate projects the largest step's costs to 10,000 GPUs: messages per
// running job and per runner as measured, and CPU per message of the
// leader and the NATS nodes. With two steps or more the CPU per message is
// the marginal one between the smallest and the largest step (fixed costs,
// the bench's own probes among them, left out); with one, the average.
func estimate(w io.Writer, o options, rs []stepResult) {
	// The costs come from the largest step this machine held: where it
	// saturated, latencies are the machine's and CPU per message drops
	// as starved processes batch more per wake-up.
	held := rs[:1]
	for i, r := range rs {
		if r.machineSaturated() == "" {
			held = rs[:i+1]
		}
	}
	if len(held) < len(rs) {
		fmt.Fprintf(w, "\n(Costs below come from %d × %d, the largest step this machine held; the CPU per message at %d × %d, where it saturated, was lower: starved processes batch more per wake-up.)\n",
			held[len(held)-1].runners, held[len(held)-1].slots, rs[len(rs)-1].runners, rs[len(rs)-1].slots)
	}
	rs = held
	r := rs[len(rs)-1]
	if r.running <= 0 {
		return
	}
	perJob := 0.0
	for _, k := range jobKinds {
		perJob += r.sends[k]
	}
	perJob /= r.running
	perRunner := (r.sends["heartbeat"] + r.sends["pull"] + r.sends["pull_nowait"]) / float64(r.runners)
	lead := r.supDeliv[r.leader]
	leadPerJob := (lead["event"] + lead["ack"] + lead["inbox"] + lead["other"]) / r.running
	leadPerRunner := lead["heartbeat"] / float64(r.runners)
	natsMsgs := func(r stepResult) float64 {
		return r.sum(r.nodeIn, "n1", "n2", "n3") + r.sum(r.nodeOut, "n1", "n2", "n3")
	}
	leaderCPU := func(r stepResult) float64 { return r.cpu["supervisor-"+r.leader] }
	usPerDelivery := perUnit(leaderCPU(r), r.deliveries(r.leader))
	usPerNATSMsg := perUnit(r.natsCPU(), natsMsgs(r))
	how := "average at the largest step"
	if first := rs[0]; len(rs) > 1 && r.deliveries(r.leader) > 1.5*first.deliveries(r.leader) {
		usPerDelivery = perUnit(leaderCPU(r)-leaderCPU(first), r.deliveries(r.leader)-first.deliveries(r.leader))
		usPerNATSMsg = perUnit(r.natsCPU()-first.natsCPU(), natsMsgs(r)-natsMsgs(first))
		how = fmt.Sprintf("marginal between %d and %d runners", first.runners, r.runners)
	}
	natsPerSend := natsMsgs(r) / max(r.busSends(), 1)
	fmt.Fprintf(w, "\nCosts measured at %d × %d (%.0f running):\n", r.runners, r.slots, r.running)
	fmt.Fprintf(w, "  runners send %.2f msgs/s per running job (events %.2f, in-progress %.3f, ownership reads %.3f, claim+complete+ack %.3f, prefetch %.3f) and %.2f per runner (heartbeat %.2f, free slots' pulls %.2f waiting + %.2f without)\n",
		perJob, r.perJob(r.sends["event"]), r.perJob(r.sends["in_progress"]), r.perJob(r.sends["owner_read"]),
		r.perJob(r.sends["claim"]+r.sends["complete"]+r.sends["ack"]), r.perJob(r.sends["prefetch"]), perRunner,
		r.sends["heartbeat"]/float64(r.runners), r.sends["pull"]/float64(r.runners), r.sends["pull_nowait"]/float64(r.runners))
	fmt.Fprintf(w, "  the leader is delivered %.2f msgs/s per running job and %.2f per runner, and spends %.0f µs of CPU per delivery (%s)\n",
		leadPerJob, leadPerRunner, usPerDelivery, how)
	fmt.Fprintf(w, "  the NATS cluster handles %.0f msgs/s in+out (%.1f per message a runner sends) and spends %.1f µs of CPU per message, three nodes together (%s)\n",
		natsMsgs(r), natsPerSend, usPerNATSMsg, how)
	const gpus = 10000
	running := o.load * gpus
	fmt.Fprintf(w, "\nEstimate for %d GPUs at %.0f%% busy (%.0f jobs running), from those costs:\n", gpus, o.load*100, running)
	for _, perHost := range []int{1, 8} {
		runners := float64(gpus / perHost)
		deliv := leadPerJob*running + leadPerRunner*runners
		sends := perJob*running + perRunner*runners
		nats := natsPerSend * sends
		fmt.Fprintf(w, "  %5.0f runners × %d GPU: runners send %.0f msgs/s; each supervisor replica is delivered %.0f/s → %.1f cores; NATS %.0f msgs/s → %.1f cores across the cluster\n",
			runners, perHost, sends, deliv, deliv*usPerDelivery/1e6, nats, nats*usPerNATSMsg/1e6)
	}
}

// perUnit is CPU (cores) per unit a second, in µs; 0 when there are none.
func perUnit(cores, perSecond float64) float64 {
	if perSecond <= 0 || cores <= 0 {
		return 0
	}
	return cores / perSecond * 1e6
}
