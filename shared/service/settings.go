package service

import (
	"time"

	"cyberimage/shared/bus"
	"cyberimage/shared/config"
	"cyberimage/shared/jobstore"
	"cyberimage/shared/logging"
	"cyberimage/shared/tracing"
)

// Settings are what every service reads: where NATS is and with which
// credentials, the layout's settings it checks, the records' retention,
// logging and tracing. A service's Config embeds them.
type Settings struct {
	NATS      bus.Conn
	Bus       bus.Settings
	Retention jobstore.Retention
	Log       logging.Config
	Tracing   tracing.Config
	// StopTimeout bounds the whole shutdown after a signal. Bind leaves
	// it alone: each service sets it, or binds it as a setting of its own.
	StopTimeout time.Duration
}

// Common returns the settings, for Main.
func (s Settings) Common() Settings { return s }

// Bind binds the settings every service has.
func (s *Settings) Bind(l *config.Loader) {
	s.NATS.Bind(l)
	s.Bus.Bind(l)
	s.Retention.Bind(l)
	s.Log.Bind(l)
	s.Tracing.Bind(l)
}

// Check checks them once parsed.
func (s *Settings) Check(l *config.Loader) {
	s.Bus.Check(l)
	s.Retention.Check(l)
	s.Tracing.Check(l)
	s.NATS.Check(l)
}
