// Package config reads the ingest settings from flags and CYBERIMAGE_*
// environment variables.
package config

import (
	"io"

	"cyberimage/shared/bus"
	"cyberimage/shared/config"
	"cyberimage/shared/httpserve"
	"cyberimage/shared/jobstore"
	"cyberimage/shared/logging"
	"cyberimage/shared/tracing"
)

// Config is everything ingest needs to start.
type Config struct {
	NATS         bus.Conn
	Bus          bus.Settings
	Retention    jobstore.Retention
	Log          logging.Config
	Tracing      tracing.Config
	ModelsDir    string
	DefaultModel string
	// Concurrency is how many requests are validated and queued at once.
	Concurrency int
	// HTTPAddr serves /healthz and /metrics; empty turns it off.
	HTTPAddr string
	// HTTPTLS is that listener's certificate; empty: plain HTTP.
	HTTPTLS httpserve.TLS
	// JobMemoryMB is the memory one job may use on a runner; a request no
	// runner could fit is rejected (memory_budget_exceeded). 0: the
	// runners' default, models.DefaultJobMemoryMB.
	JobMemoryMB int
}

// Load parses args and the environment; help and errors go to out.
func Load(args []string, out io.Writer) (Config, error) {
	var c Config
	l := config.NewLoader("ingest", out)
	c.NATS.Bind(l)
	c.Bus.Bind(l)
	c.Retention.Bind(l)
	c.Log.Bind(l)
	c.Tracing.Bind(l)
	l.String(&c.ModelsDir, "models-dir", "infra/models", "folder of model folders, each with a manifest.json")
	l.String(&c.DefaultModel, "default-model", "", "model used when a request names none (empty: the only model, or demo)")
	l.Int(&c.Concurrency, "ingest-concurrency", 32, "requests handled at once")
	l.String(&c.HTTPAddr, "ingest-addr", "127.0.0.1:8081", "address of ingest's /healthz and /metrics (empty: off)")
	c.HTTPTLS.Bind(l)
	l.Int(&c.JobMemoryMB, "job-memory-mb", 0, "MB one job may use on a runner; requests that cannot fit are rejected (0: 2048, the runners' default)")
	if err := l.Parse(args); err != nil {
		return c, err
	}
	c.Bus.Check(l)
	c.Retention.Check(l)
	c.Tracing.Check(l)
	c.NATS.Check(l)
	c.HTTPTLS.Check(l)
	l.Check(c.Concurrency >= 1, "CYBERIMAGE_INGEST_CONCURRENCY must be at least 1")
	l.Check(c.JobMemoryMB >= 0, "CYBERIMAGE_JOB_MEMORY_MB must not be negative")
	return c, l.Err()
}
