// Package config reads the ingest settings from flags and CYBERIMAGE_*
// environment variables.
package config

import (
	"io"
	"time"

	"cyberimage/shared/config"
	"cyberimage/shared/httpserve"
	"cyberimage/shared/job"
	"cyberimage/shared/models"
	"cyberimage/shared/quota"
	"cyberimage/shared/service"
)

// Config is everything ingest needs to start.
type Config struct {
	// Settings are those of every service (NATS, layout, retention, logs,
	// tracing).
	service.Settings
	ModelsDir    string
	DefaultModel string
	// Concurrency is how many requests are validated and queued at once.
	Concurrency int
	// HTTPAddr serves /healthz and /metrics; empty turns it off.
	HTTPAddr string
	// HTTPTLS is that listener's certificate; empty: plain HTTP.
	HTTPTLS httpserve.TLS
	// JobMemory is the memory one job may use on a runner; a request no
	// runner could fit is rejected (memory_budget_exceeded).
	JobMemory models.JobMemory
	// WebhookHosts are the hosts a request's callback_url may name
	// (CYBERIMAGE_WEBHOOK_ALLOWED_HOSTS); none: callbacks are refused.
	WebhookHosts job.CallbackHosts
	// Quotas are each client's limits (CYBERIMAGE_QUOTAS): queued jobs at
	// once and jobs accepted a minute; none enabled: nothing is counted.
	Quotas quota.Table
}

// Load parses args and the environment; help and errors go to out.
func Load(args []string, out io.Writer) (Config, error) {
	var c Config
	l := config.NewLoader("ingest", out)
	// What is left of a shutdown when a signal comes is quick: the HTTP
	// listener is the only part that waits.
	c.StopTimeout = 5 * time.Second
	c.Settings.Bind(l)
	l.String(&c.ModelsDir, "models-dir", "infra/models", "folder of model folders, each with a manifest.json")
	l.String(&c.DefaultModel, "default-model", "", "model used when a request names none (empty: the only model, or demo)")
	l.Int(&c.Concurrency, "ingest-concurrency", 32, "requests handled at once")
	l.String(&c.HTTPAddr, "ingest-addr", "127.0.0.1:8081", "address of ingest's /healthz and /metrics (empty: off)")
	c.HTTPTLS.Bind(l)
	c.JobMemory.Bind(l)
	hosts := job.BindCallbackHosts(l, "hosts a request's callback_url may name: comma-separated host, host:port or *.domain, http://host[:port] to allow plain HTTP (empty: callbacks refused)")
	quotas := quota.Bind(l, "per-client limits, 'client=max_queued/per_minute' entries with * for every other client, 0 or empty for no limit, e.g. '*=100/60 alice=1000/600' (empty: no limits)")
	if err := l.Parse(args); err != nil {
		return c, err
	}
	hosts.Check(l)
	c.WebhookHosts = hosts.Value
	quotas.Check(l)
	c.Quotas = quotas.Value
	c.Settings.Check(l)
	c.HTTPTLS.Check(l)
	l.Check(c.Concurrency >= 1, "CYBERIMAGE_INGEST_CONCURRENCY must be at least 1")
	c.JobMemory.Check(l)
	return c, l.Err()
}
