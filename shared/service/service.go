// Package service is the one way a service of the pipeline runs: settings,
// logger, tracing, signal handling, then its components started in order
// and stopped in reverse, with one error path and one set of exit codes.
// A service's main is a list of components; River's startstop services and
// asynq's server (heartbeater, processor, ... stopped in reverse) are the
// models.
package service

import (
	"context"
	"errors"
	"sync"

	"cyberimage/shared/lifecycle"
)

// Component is the one contract of every part of a service with work in
// the background (lifecycle.Component): Start brings it up and returns
// once it runs, Stop ends it and waits for what it started within ctx.
type Component = lifecycle.Component

// Hooks is a component made of two functions; either may be nil. It is
// for the steps of a service that only start (a check, a wait, a log line)
// or only stop (closing what a constructor opened), and for parts of a
// foreign shape (the standard library's http.Server); the service's own
// parts are Components themselves.
type Hooks struct {
	OnStart func(ctx context.Context) error
	OnStop  func(ctx context.Context) error
}

// Start calls OnStart.
func (h Hooks) Start(ctx context.Context) error {
	if h.OnStart == nil {
		return nil
	}
	return h.OnStart(ctx)
}

// Stop calls OnStop.
func (h Hooks) Stop(ctx context.Context) error {
	if h.OnStop == nil {
		return nil
	}
	return h.OnStop(ctx)
}

// Stack is a service's started components, stopped in reverse order of
// starting: what sends stops before what it sends through.
type Stack struct {
	mu      sync.Mutex
	started []Component
	fatal   <-chan error
}

// Start starts each component in order, keeping it for Stop. It stops at
// the first that fails and returns its error; the components started so
// far (by this call and earlier ones) stay for Stop.
func (s *Stack) Start(ctx context.Context, components ...Component) error {
	for _, c := range components {
		if err := c.Start(ctx); err != nil {
			return err
		}
		s.mu.Lock()
		s.started = append(s.started, c)
		s.mu.Unlock()
	}
	return nil
}

// Fatal sets the channel on which the service reports a state it cannot
// recover from in-process (a wedged inference); Run then exits for a
// restart without stopping. A service has at most one.
func (s *Stack) Fatal(ch <-chan error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fatal = ch
}

// Stop stops every started component in reverse order, each with ctx, and
// returns their errors joined. Every component is asked to stop even when
// one before it failed; a component that must not wait after such a
// failure (closing a model wedged in an inference) knows it from its own
// service. A second Stop does nothing.
func (s *Stack) Stop(ctx context.Context) error {
	s.mu.Lock()
	started := s.started
	s.started = nil
	s.mu.Unlock()
	var errs []error
	for i := len(started) - 1; i >= 0; i-- {
		errs = append(errs, started[i].Stop(ctx))
	}
	return errors.Join(errs...)
}

// failed is the fatal channel (nil, which never delivers, when none).
func (s *Stack) failed() <-chan error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fatal
}
