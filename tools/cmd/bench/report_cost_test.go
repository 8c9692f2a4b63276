package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"cyberimage/tools/internal/benchmodel"
)

// costRun is a run's figures as the report reads them: the raw loop at 300
// jobs/s and 5 CPU-ms per job, the floor, the pipeline and, when withAsynq,
// the peer, each measured before and after the pipeline.
func costRun(withAsynq bool) *results {
	r := &results{}
	r.Config.Concurrency, r.Config.InFlight = 2, 1
	for i, when := range []string{"before", "after"} {
		d := float64(i) * 2 // the two runs differ; the report takes their mean
		set := rawSet{When: when}
		set.Loop.Jobs, set.Loop.JobsPerSec = 2000, 300+d
		set.Loop.CPUMSPerJob = map[string]float64{"worker": 4, "minio": 1, harnessName: 0, "total": 5}
		set.Floor = floorResult{Floor: benchmodel.Floor{Jobs: 2000, JobsPerSec: 200 + d, Upto: "archive",
			E2EP50MS: 20, InferenceP50MS: 10, UploadP50MS: 8, EncodeP50MS: 0.5}}
		set.Floor.CPUMSPerJob = map[string]float64{"total": 7.5}
		if withAsynq {
			set.Asynq = &asynqResult{Asynq: benchmodel.Asynq{Version: "v0.26.0", Jobs: 2000, Workers: 2, JobsPerSec: 255 + d,
				CheckIntervalMS: 1, Paced: 300, E2EP50MS: 19.5, InferenceP50MS: 10, EncodeP50MS: 0.5, UploadP50MS: 8},
				CPUMSPerJob: map[string]float64{"worker": 4.5, "redis": 0.5, "minio": 1, harnessName: 0, "total": 6}, RedisVersion: "7.0.15"}
		}
		r.Raw = append(r.Raw, set)
	}
	r.Burst = phaseResult{Name: "burst", JobsPerSec: 210, CPUPerJobMS: map[string]float64{"total": 7.7}}
	r.Paced = &phaseResult{Name: "paced", InFlight: 1, OverheadP50: 2.2,
		Stages: map[string]dist{"encode": {P50: 0.6}, "inference": {P50: 10}, "upload": {P50: 8}}}
	return r
}

func TestCostSetsThePipelineBesideTheFloorAndAsynq(t *testing.T) {
	r := costRun(true)
	r.concludeCost()
	c := r.Cost
	if c.RawLoop == nil || c.Floor == nil || c.Pipeline == nil || c.Asynq == nil {
		t.Fatalf("columns %+v: want all four", c)
	}
	near := func(name string, got, want float64) {
		t.Helper()
		if d := got - want; d > 0.001 || d < -0.001 {
			t.Errorf("%s = %.3f, want %.3f", name, got, want)
		}
	}
	near("loop jobs/s (mean)", c.RawLoop.JobsPerSec, 301)
	near("pipeline ÷ loop", c.Pipeline.LoopRatio, 210.0/301)
	near("pipeline overhead CPU-ms", c.Pipeline.OverheadCPUMS, 2.7)
	near("floor overhead CPU-ms", c.Floor.OverheadCPUMS, 2.5)
	near("asynq ÷ loop", c.Asynq.LoopRatio, 256.0/301)
	near("asynq overhead CPU-ms", c.Asynq.OverheadCPUMS, 1)
	near("pipeline − floor", *c.ServicesCPUMS, 0.2)
	near("pipeline p50 overhead less encode", *c.Pipeline.P50OverheadLessEncodeMS, 1.6)
	near("floor p50 overhead less encode", *c.Floor.P50OverheadLessEncodeMS, 1.5)
	near("asynq p50 overhead", *c.Asynq.P50OverheadMS, 1.5)
	want := map[string]bool{measureLoopRatio: false, measureOverhead: false, measureServices: true, measureP50: false}
	for _, target := range c.Targets {
		if pass, ok := want[target.Measure]; !ok || pass != target.Pass {
			t.Errorf("target %+v: want pass %v", target, pass)
		}
		delete(want, target.Measure)
	}
	if len(want) > 0 {
		t.Errorf("targets not judged: %v", want)
	}

	report := printed(r)
	for _, line := range []string{
		"| | raw loop | design floor | pipeline | asynq + Redis | target |",
		"| ÷ raw loop | 1.00 | 0.67 | **0.70** | 0.85 | ≥ 0.90 MISS |",
		"| overhead over the raw loop, CPU-ms per job | 0.00 | 2.50 | **2.70** | 1.00 | ≤ 1.50 MISS |",
		"| pipeline − floor, CPU-ms per job (the services' code) | | | **0.20** | | ≤ 0.30 PASS |",
		"| same, less the PNG encode, ms |  | 1.50 | **1.60** | 1.00 | ≤ 1.50 MISS |",
		"asynq v0.26.0 with redis-server 7.0.15",
	} {
		if !strings.Contains(report, line) {
			t.Errorf("report lacks %q:\n%s", line, report)
		}
	}
	// results.json carries the same table.
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Cost perJobCost `json:"per_job_cost"`
	}
	if err := json.Unmarshal(data, &back); err != nil || back.Cost.Asynq == nil || back.Cost.Asynq.JobsPerSec != c.Asynq.JobsPerSec {
		t.Errorf("results.json per_job_cost %+v (%v): want asynq's column", back.Cost, err)
	}
}

func TestCostSaysWhyAsynqIsNotMeasured(t *testing.T) {
	r := costRun(false)
	r.AsynqNotMeasured = asynqMissing
	r.concludeCost()
	if r.Cost.Asynq != nil {
		t.Fatalf("asynq column %+v with no asynq run", r.Cost.Asynq)
	}
	report := printed(r)
	for _, line := range []string{
		"asynq: not measured (redis-server not installed: apt-get install redis-server)",
		"| | raw loop | design floor | pipeline | asynq + Redis (not measured) | target |",
		"| ÷ raw loop | 1.00 | 0.67 | **0.70** |  | ≥ 0.90 MISS |",
	} {
		if !strings.Contains(report, line) {
			t.Errorf("report lacks %q:\n%s", line, report)
		}
	}

	// A run of it that failed says so, rather than that Redis is missing.
	r = costRun(false)
	r.Raw[1].AsynqError = "redis-after exited before it was ready"
	r.concludeCost()
	if want := "asynq: not measured (failed: redis-after exited before it was ready)"; !strings.Contains(printed(r), want) {
		t.Errorf("report lacks %q", want)
	}
}

func printed(r *results) string {
	var b strings.Builder
	printCost(func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }, r)
	return b.String()
}
