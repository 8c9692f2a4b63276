package main

import (
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"cyberimage/tools/internal/benchstack"
)

// The index's lag at a moment is the age of the oldest completion it had
// not counted then; none when it had counted every one written so far.
func TestIndexLagIsTheAgeOfTheOldestUncountedCompletion(t *testing.T) {
	t0 := time.Unix(1000, 0)
	completions := []int64{t0.UnixNano(), t0.Add(time.Second).UnixNano(), t0.Add(3 * time.Second).UnixNano()}
	samples := []countSample{
		{at: t0.Add(500 * time.Millisecond), completed: 0},  // the first, 0.5 s old, not counted
		{at: t0.Add(1500 * time.Millisecond), completed: 2}, // both written so far counted
		{at: t0.Add(2 * time.Second), completed: 1},         // the second, 1 s old, not counted
		{at: t0.Add(4 * time.Second), completed: 3},         // all counted
	}
	got := indexLag(samples, completions)
	want := []time.Duration{500 * time.Millisecond, 0, time.Second, 0}
	if !slices.Equal(got, want) {
		t.Fatalf("lags %v, want %v", got, want)
	}
}

func TestJobShapeTravelsInThePrompt(t *testing.T) {
	s := jobShape{modelTime: 12345 * time.Millisecond, images: 1}
	if got := shapeOf(shapePrompt(s)); got != s.modelTime {
		t.Fatalf("shapeOf(%q) = %s, want %s", shapePrompt(s), got, s.modelTime)
	}
	if got := shapeOf("a neon koi pond"); got != 10*time.Second {
		t.Fatalf("a prompt from elsewhere runs %s, want 10s", got)
	}
}

// A figure read at only one end of a window has no rate: neither its whole
// count since start (missing at the start: n2, emulator-3, s2) nor a
// negative (missing at the end: n3, emulator-2) is taken for the window's.
func TestFillSubtractsOnlyFiguresReadAtBothEnds(t *testing.T) {
	t0 := time.Unix(1000, 0)
	s0 := snapshot{at: t0,
		varz:  map[string]server.Varz{"n1": {InMsgs: 100, OutMsgs: 100}, "n3": {InMsgs: 9000, OutMsgs: 9000}},
		conns: map[string]map[string]supConn{"n1": {"s1": {subs: map[string]int64{"heartbeat": 10}, in: 5}}},
		emu:   map[string]map[string]int64{"emulator-1": {"heartbeat": 50}, "emulator-2": {"heartbeat": 1000}},
		sup:   map[string]supMetrics{"s1": {recoveries: 2, slow: 1}},
	}
	s1 := snapshot{at: t0.Add(10 * time.Second),
		varz: map[string]server.Varz{"n1": {InMsgs: 200, OutMsgs: 300}, "n2": {InMsgs: 9000, OutMsgs: 9000}},
		conns: map[string]map[string]supConn{"n1": {"s1": {subs: map[string]int64{"heartbeat": 30}, in: 15}},
			"n2": {"s2": {subs: map[string]int64{"heartbeat": 7000}, in: 7000}}},
		emu: map[string]map[string]int64{"emulator-1": {"heartbeat": 150}, "emulator-3": {"heartbeat": 5000}},
		sup: map[string]supMetrics{"s1": {recoveries: 2, slow: 1}, "s2": {recoveries: 40, slow: 3}},
	}
	h := &harness{ps: benchstack.NewProcs(t.TempDir(), t.TempDir()), sups: []*supervisor{{id: "s1"}, {id: "s2"}}}
	var r stepResult
	r.fill(s0, s1, h)
	if r.sends["heartbeat"] != 10 || r.emusRead != 1 {
		t.Fatalf("sends %v from %d emulators, want 10 heartbeats/s from emulator-1 alone", r.sends, r.emusRead)
	}
	if r.nodeIn["n1"] != 10 || r.nodeOut["n1"] != 20 || len(r.nodeIn) != 1 {
		t.Fatalf("node rates in %v out %v, want n1 alone at 10 / 20", r.nodeIn, r.nodeOut)
	}
	if r.supDeliv["s1"]["heartbeat"] != 2 || r.supSent["s1"] != 1 || r.supDeliv["s2"] != nil {
		t.Fatalf("deliveries %v sent %v, want s1 alone at 2 / 1", r.supDeliv, r.supSent)
	}
	if r.recoveries != 0 || r.slow != 0 || r.supsRead != 1 || r.supsAll != 2 {
		t.Fatalf("recoveries %v slow %v from %d of %d, want 0, 0 from 1 of 2", r.recoveries, r.slow, r.supsRead, r.supsAll)
	}
}
