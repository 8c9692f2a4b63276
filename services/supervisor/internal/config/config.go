// Package config reads the supervisor settings from flags and CYBERIMAGE_*
// environment variables.
package config

import (
	"io"
	"time"

	"cyberimage/shared/bus"
	"cyberimage/shared/config"
	"cyberimage/shared/logging"
	"cyberimage/shared/objectstore"
)

// Config is everything the supervisor needs to start.
type Config struct {
	NATS bus.Conn
	Bus  bus.Settings
	Log  logging.Config
	S3   objectstore.Config
	// Addr serves /status, /v1/jobs, /api/queue, /healthz and /metrics.
	Addr string
	// PresignTTL is how long image URLs in job lookups stay valid.
	PresignTTL time.Duration
	// RunnerTimeout: a runner silent this long is listed as lost.
	RunnerTimeout time.Duration
}

// Load parses args and the environment; help and errors go to out.
func Load(args []string, out io.Writer) (Config, error) {
	var c Config
	l := config.NewLoader("supervisor", out)
	c.NATS.Bind(l)
	c.Bus.Bind(l)
	c.Log.Bind(l)
	c.S3.Bind(l)
	l.String(&c.Addr, "supervisor-addr", "127.0.0.1:8080", "HTTP address of the status and lookup endpoints")
	l.Duration(&c.PresignTTL, "presign-ttl", time.Hour, "validity of presigned image URLs")
	l.Duration(&c.RunnerTimeout, "runner-timeout", 10*time.Second, "a runner without heartbeat this long is shown as lost")
	if err := l.Parse(args); err != nil {
		return c, err
	}
	c.Bus.Check(l)
	l.Check(c.PresignTTL >= time.Second && c.PresignTTL <= 7*24*time.Hour, "CYBERIMAGE_PRESIGN_TTL must be between 1s and 7 days")
	l.Check(c.RunnerTimeout > 0, "CYBERIMAGE_RUNNER_TIMEOUT must be positive")
	return c, l.Err()
}
