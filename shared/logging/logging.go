// Package logging builds the one *zap.Logger each service passes down, named
// per component by the callers.
package logging

import (
	"fmt"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"cyberimage/shared/config"
)

// Config selects the log level and format.
type Config struct {
	Level  string // debug, info, warn, error
	Format string // json (machines) or console (people)
}

// New builds a logger for a service; every line carries the service name.
func New(service string, cfg Config) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(cfg.Level)
	if err != nil {
		return nil, fmt.Errorf("log level %q: %w", cfg.Level, err)
	}
	zc := zap.NewProductionConfig()
	zc.Level = zap.NewAtomicLevelAt(level)
	zc.EncoderConfig.EncodeTime = zapcore.RFC3339NanoTimeEncoder
	zc.EncoderConfig.TimeKey = "ts"
	// Sampling would drop lines about individual jobs under load.
	zc.Sampling = nil
	switch cfg.Format {
	case "json", "":
	case "console":
		zc.Encoding = "console"
		zc.EncoderConfig.EncodeLevel = zapcore.CapitalLevelEncoder
	default:
		return nil, fmt.Errorf("log format %q: want json or console", cfg.Format)
	}
	logger, err := zc.Build()
	if err != nil {
		return nil, fmt.Errorf("build logger: %w", err)
	}
	return logger.With(zap.String("service", service)), nil
}

// Bind registers the log settings with a config loader.
func (c *Config) Bind(l *config.Loader) {
	l.String(&c.Level, "log-level", "info", "log level: debug, info, warn, error")
	l.String(&c.Format, "log-format", "json", "log format: json or console")
}
