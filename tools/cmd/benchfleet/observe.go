package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"cyberimage/tools/internal/benchstack"
)

// httpc reads the figures: a loaded supervisor may take seconds to
// answer /metrics, which is itself worth knowing.
var httpc = &http.Client{Timeout: 20 * time.Second}

func getJSON(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := httpc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// snapshot is every cumulative figure read at one moment; a step's
// figures are the differences between the snapshots at the ends of its
// window. Each source's figures are kept apart (by node, emulator,
// supervisor), so a source missing from either reading drops out of the
// window instead of counting its whole history, or a negative, as one.
type snapshot struct {
	at      time.Time
	cpu     map[string]float64 // CPU-seconds by process name
	harness float64
	machine float64 // busy CPU-seconds of the whole machine
	varz    map[string]server.Varz
	// conns are each supervisor's connections' figures, by node read, then
	// by supervisor id.
	conns map[string]map[string]supConn
	emu   map[string]map[string]int64 // each emulator's counts, by process name
	sup   map[string]supMetrics       // each supervisor's /metrics, by id
	// missed lists the figures that could not be read (a supervisor too
	// busy to answer its /metrics within the timeout, say): a finding, not
	// a reason to stop.
	missed []string
}

// supConn is what one node says of a supervisor's connections: the
// messages delivered to it, by kind of subscription, and what it sent.
type supConn struct {
	subs map[string]int64
	in   int64
}

// supMetrics are a supervisor's recoveries and slow-consumer errors.
type supMetrics struct{ recoveries, slow float64 }

// take reads every figure now.
func (h *harness) take(ctx context.Context) snapshot {
	s := snapshot{at: time.Now(), cpu: map[string]float64{}, varz: map[string]server.Varz{},
		conns: map[string]map[string]supConn{}, emu: map[string]map[string]int64{}, sup: map[string]supMetrics{}}
	for _, p := range h.ps.All() {
		s.cpu[p.Name] = benchstack.ProcCPU(p.PID())
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.harness = float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
	}
	s.machine, _ = benchstack.MachineCPU()
	for _, n := range h.cl.Nodes {
		var v server.Varz
		if err := getJSON(ctx, n.MonitorURL()+"/varz", &v); err != nil {
			s.missed = append(s.missed, err.Error())
			continue
		}
		s.varz[n.Name] = v
		var cz server.Connz
		if err := getJSON(ctx, n.MonitorURL()+"/connz?subs=detail&sort=msgs_to&limit=64", &cz); err != nil {
			s.missed = append(s.missed, err.Error())
			continue
		}
		sups := map[string]supConn{}
		for _, c := range cz.Conns {
			sup, ok := strings.CutPrefix(c.Name, "supervisor ")
			if !ok {
				continue
			}
			sc, ok := sups[sup]
			if !ok {
				sc.subs = map[string]int64{}
			}
			sc.in += c.InMsgs
			for _, sd := range c.SubsDetail {
				sc.subs[subKind(sd.Subject)] += sd.Msgs
			}
			sups[sup] = sc
		}
		s.conns[n.Name] = sups
	}
	for _, e := range h.emus {
		st, err := e.stats(ctx, false)
		if err != nil {
			s.missed = append(s.missed, err.Error())
			continue
		}
		s.emu[e.proc.Name] = st.Counts
	}
	for _, sup := range h.sups {
		m, err := scrape(ctx, "http://"+sup.addr+"/metrics")
		if err != nil {
			s.missed = append(s.missed, sup.id+" /metrics: "+err.Error())
			continue
		}
		s.sup[sup.id] = supMetrics{recoveries: m["cyberimage_recoveries_total"], slow: m["cyberimage_nats_slow_consumer_errors_total"]}
	}
	return s
}

// subKind names what a supervisor's subscription carries.
func subKind(subject string) string {
	switch {
	case strings.HasPrefix(subject, "cyberimage.runners."):
		return "heartbeat"
	case strings.HasPrefix(subject, "cyberimage.events."):
		return "event"
	case strings.HasPrefix(subject, "$JS.ACK."):
		return "ack"
	case strings.HasPrefix(subject, "_INBOX"):
		return "inbox" // KV watches, pulls, replies
	}
	return "other"
}

// scrape reads a Prometheus text page into sums by series name (labels
// summed over).
func scrape(ctx context.Context, url string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := httpc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		name := line[:i]
		if j := strings.IndexByte(name, '{'); j >= 0 {
			name = name[:j]
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[name] += v
		}
	}
	return out, sc.Err()
}
