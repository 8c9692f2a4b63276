package e2e

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"cyberimage/shared/bus"
)

// scrapeFamilies reads a /metrics page with Prometheus' own parser.
func scrapeFamilies(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	require.NoError(t, err, "the page parses as Prometheus text")
	return families
}

// sample finds the metric of a family whose labels include want.
func sample(t *testing.T, families map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	t.Helper()
	f, ok := families[name]
	require.True(t, ok, "series %s is exposed", name)
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			match = match && labels[k] == v
		}
		if match {
			return m
		}
	}
	require.Failf(t, "no such sample", "%s%v", name, want)
	return nil
}

func value(m *dto.Metric) float64 {
	switch {
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	case m.GetUntyped() != nil:
		return m.GetUntyped().GetValue()
	}
	return 0
}

// TestMetricsOfEveryService: after a run, every service's /metrics is
// Prometheus text from the client library (HELP and TYPE on every
// series), and its figures agree with the run: job counts and histogram
// counts equal the completed jobs, runner health matches /status, and the
// dashboard and alert rules in infra/ name only series that exist.
func TestMetricsOfEveryService(t *testing.T) {
	s := newStack(t)
	s.startServices()
	runnerAddr := freeAddr(t)
	s.startRunner("runner-1", "CYBERIMAGE_RUNNER_ADDR="+runnerAddr, "CYBERIMAGE_MODELS=demo")
	const jobs = 3
	for i := range jobs {
		waitCompleted(t, s, request(t, s.client, fmtReq("measured "+strconv.Itoa(i), 64, 64, 2, "")).JobID, time.Minute)
	}
	require.NotNil(t, request(t, s.client, `{"prompt":"bad","width":100}`).Error)
	// A junk heartbeat: the supervisor drops it and counts it.
	require.NoError(t, s.nc.Publish(bus.HeartbeatSubject("junk"), []byte("not a heartbeat")))
	require.NoError(t, s.nc.Flush())
	require.Eventually(t, func() bool {
		f, ok := scrapeFamilies(t, s.supervisorAddr)["cyberimage_bus_dropped_total"]
		return ok && len(f.GetMetric()) > 0
	}, 10*time.Second, 100*time.Millisecond, "the junk heartbeat was counted")

	sup, ing, run := scrapeFamilies(t, s.supervisorAddr), scrapeFamilies(t, s.ingestAddr), scrapeFamilies(t, runnerAddr)
	for service, families := range map[string]map[string]*dto.MetricFamily{"supervisor": sup, "ingest": ing, "gpu-runner": run} {
		for name, f := range families {
			require.NotEmpty(t, f.GetHelp(), "%s: %s has HELP", service, name)
		}
		require.Equal(t, 1.0, value(sample(t, families, "cyberimage_build_info", map[string]string{"service": service})))
		require.Greater(t, value(sample(t, families, "process_resident_memory_bytes", nil)), 0.0)
		require.Greater(t, value(sample(t, families, "go_goroutines", nil)), 0.0)
		require.Equal(t, dto.MetricType_COUNTER, families["cyberimage_nats_reconnects_total"].GetType())
	}

	// Supervisor: jobs by model and status, runners by health as /status.
	require.Equal(t, dto.MetricType_GAUGE, sup["cyberimage_jobs"].GetType())
	require.Equal(t, float64(jobs), value(sample(t, sup, "cyberimage_jobs", map[string]string{"model": "demo", "status": "completed"})))
	require.Equal(t, 0.0, value(sample(t, sup, "cyberimage_jobs", map[string]string{"model": "demo", "status": "cancelled"})))
	st := statusAt(t, s.supervisorAddr)
	healthy := 0
	for _, r := range st.Runners {
		if r.Health == "healthy" {
			healthy++
		}
	}
	require.Equal(t, 1, healthy)
	require.Equal(t, float64(healthy), value(sample(t, sup, "cyberimage_runners", map[string]string{"health": "healthy"})))
	require.Equal(t, 0.0, value(sample(t, sup, "cyberimage_runners", map[string]string{"health": "unhealthy"})))
	require.Equal(t, 0.0, value(sample(t, sup, "cyberimage_queue_pending", nil)))
	require.Equal(t, 1.0, value(sample(t, sup, "cyberimage_supervisor_leader", nil)))
	require.Equal(t, 1.0, value(sample(t, sup, "cyberimage_bus_dropped_total", map[string]string{"kind": "junk:heartbeat"})))
	require.Equal(t, 0.0, value(sample(t, sup, "cyberimage_recoveries_total", map[string]string{"rule": "stalled"})))

	// Ingest: accepted and rejected by code.
	require.Equal(t, dto.MetricType_COUNTER, ing["cyberimage_ingest_requests_total"].GetType())
	require.Equal(t, float64(jobs), value(sample(t, ing, "cyberimage_ingest_requests_total", map[string]string{"outcome": "accepted"})))
	require.Equal(t, 1.0, value(sample(t, ing, "cyberimage_ingest_requests_total",
		map[string]string{"outcome": "rejected", "code": "width_not_multiple_of_8"})))

	// Runner: a histogram per stage and end to end, counting every job.
	require.Equal(t, dto.MetricType_HISTOGRAM, run["cyberimage_job_stage_seconds"].GetType())
	for _, stage := range []string{"queue_wait", "inference", "encode", "upload"} {
		h := sample(t, run, "cyberimage_job_stage_seconds", map[string]string{"model": "demo", "stage": stage}).GetHistogram()
		require.Equal(t, uint64(jobs), h.GetSampleCount(), stage)
		require.Greater(t, h.GetSampleSum(), 0.0, stage)
	}
	e2e := sample(t, run, "cyberimage_job_duration_seconds", map[string]string{"model": "demo"}).GetHistogram()
	require.Equal(t, uint64(jobs), e2e.GetSampleCount())
	require.Equal(t, 1.0, value(sample(t, run, "cyberimage_runner_slots", map[string]string{"runner": "runner-1", "state": "total"})))

	// Every series the dashboard and the alerts use is exposed.
	exposed := map[string]bool{}
	for _, families := range []map[string]*dto.MetricFamily{sup, ing, run} {
		for name, f := range families {
			exposed[name] = true
			if f.GetType() == dto.MetricType_HISTOGRAM {
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					exposed[name+suffix] = true
				}
			}
		}
	}
	// GPU series appear only where NVML finds a GPU (not on this
	// machine); the runner's package test checks it exposes these names
	// for each GPU it reports.
	for _, gpuSeries := range []string{"cyberimage_gpu_utilization_ratio", "cyberimage_gpu_memory_used_bytes", "cyberimage_gpu_memory_total_bytes",
		"cyberimage_gpu_temperature_celsius", "cyberimage_gpu_power_watts", "cyberimage_gpu_in_use"} {
		exposed[gpuSeries] = true
	}
	for _, expr := range append(dashboardExprs(t), alertExprs(t)...) {
		for _, name := range seriesIn(expr) {
			require.True(t, exposed[name], "%s (in %q) is exposed by some service", name, expr)
		}
	}
}

var seriesName = regexp.MustCompile(`\bcyberimage_[a-z0-9_]+`)

func seriesIn(expr string) []string { return seriesName.FindAllString(expr, -1) }

// dashboard is what the tests read of the Grafana dashboard.
type dashboard struct {
	Panels []struct {
		Type    string `json:"type"`
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

// alertRules is the Prometheus alert rules file.
type alertRules struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// dashboardExprs are the queries of every panel of the Grafana dashboard.
func dashboardExprs(t *testing.T) []string {
	t.Helper()
	var dash dashboard
	require.NoError(t, json.Unmarshal(readRepoFile(t, "infra", "grafana", "cyberimage.json"), &dash))
	var out []string
	for _, p := range dash.Panels {
		if p.Type == "row" {
			continue
		}
		require.NotEmpty(t, p.Targets, "panel %q has queries", p.Title)
		for _, target := range p.Targets {
			require.NotEmpty(t, seriesIn(target.Expr), "panel %q queries the pipeline's series", p.Title)
			out = append(out, target.Expr)
		}
	}
	require.GreaterOrEqual(t, len(out), 15)
	return out
}

// alertExprs are the expressions of the alert rules.
func alertExprs(t *testing.T) []string {
	t.Helper()
	data := readRepoFile(t, "infra", "prometheus", "alerts.yml")
	var rules alertRules
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	require.NoError(t, dec.Decode(&rules))
	var out []string
	names := map[string]bool{}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			require.NotEmpty(t, r.Alert)
			require.NotEmpty(t, r.Annotations["summary"], r.Alert)
			names[r.Alert] = true
			out = append(out, r.Expr)
		}
	}
	for _, want := range []string{"CyberImageRecoveriesHigh", "CyberImageDeadLettersGrowing", "CyberImageNoHealthyRunner", "CyberImageQueueOld"} {
		require.True(t, names[want], "alert %s", want)
	}
	return out
}
