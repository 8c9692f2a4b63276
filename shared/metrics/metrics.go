// Package metrics is the Prometheus side of every service: one registry
// per process, with the Go runtime and process collectors, the build's
// identity and the NATS connection's health, served at /metrics by the
// official client library (so every series has HELP and TYPE and the
// exposition format is the library's, not ours).
package metrics

import (
	"net/http"
	"runtime/debug"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"cyberimage/shared/bus"
)

// Namespace prefixes every series of the pipeline.
const Namespace = "cyberimage"

// New makes a service's registry: Go runtime and process metrics and
// cyberimage_build_info{service, version, revision, go_version}.
func New(service string) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	b := build()
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "build_info",
		Help:        "Always 1: the service, its version and VCS revision, and the Go version it was built with.",
		ConstLabels: prometheus.Labels{"service": service, "version": b.version, "revision": b.revision, "go_version": b.goVersion},
	}, func() float64 { return 1 }))
	return reg
}

// Handler serves the registry's metrics.
func Handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg, ErrorHandling: promhttp.ContinueOnError})
}

// buildInfo is the binary's version, VCS revision and Go version.
type buildInfo struct{ version, revision, goVersion string }

// build reads the build info once.
var build = sync.OnceValue(func() buildInfo {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return buildInfo{"unknown", "unknown", "unknown"}
	}
	b := buildInfo{version: info.Main.Version, revision: "unknown", goVersion: info.GoVersion}
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" {
			b.revision = s.Value
		}
	}
	return b
})

// NATS registers the connection's health: reconnects, slow-consumer
// errors (messages the client library dropped), and the messages the
// service took off the bus and dropped (drops may be nil).
func NATS(reg prometheus.Registerer, nc *nats.Conn, drops *bus.Drops) {
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "nats", Name: "reconnects_total",
		Help: "Times the NATS connection was made again after it was lost.",
	}, func() float64 { return float64(nc.Stats().Reconnects) }))
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "nats", Name: "slow_consumer_errors_total",
		Help: "Slow-consumer errors on the NATS connection: each means the client library dropped messages a subscription could not take in time.",
	}, func() float64 { return float64(bus.SlowConsumerErrors()) }))
	if drops != nil {
		reg.MustRegister(dropsCollector{drops})
	}
}

var droppedDesc = prometheus.NewDesc(Namespace+"_bus_dropped_total",
	"Messages taken off the bus and dropped: malformed, not believed, or whose handler panicked.", []string{"kind"}, nil)

type dropsCollector struct{ d *bus.Drops }

func (c dropsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- droppedDesc }

func (c dropsCollector) Collect(ch chan<- prometheus.Metric) {
	for _, d := range c.d.Counts() {
		ch <- prometheus.MustNewConstMetric(droppedDesc, prometheus.CounterValue, float64(d.Count), d.Kind)
	}
}

// Bool is a gauge's value for a condition: 1 when it holds.
func Bool(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
