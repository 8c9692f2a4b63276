package lifecycle

import (
	"context"
	"errors"
)

// Component is one part of a service with work in the background: a loop,
// a subscriber, a server. Start brings it up and returns once it runs (an
// error means it did not start and holds nothing); ctx bounds the start,
// not the component's life. Stop ends it and waits for what it started,
// within ctx's deadline where it has something to wait for. A service is
// a list of them, started in order and stopped in reverse (shared/service).
type Component interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
}

// Group starts and stops several components together: the supervisor's
// leader-only components start when it gains the lease and stop when it
// loses it.
type Group []Component

// Start starts every component in order. One that fails does not keep the
// others from starting (each acts on its own); the errors are returned
// joined.
func (g Group) Start(ctx context.Context) error {
	var errs []error
	for _, c := range g {
		errs = append(errs, c.Start(ctx))
	}
	return errors.Join(errs...)
}

// Stop stops every component in reverse order, each within ctx, and
// returns their errors joined.
func (g Group) Stop(ctx context.Context) error {
	var errs []error
	for i := len(g) - 1; i >= 0; i-- {
		errs = append(errs, g[i].Stop(ctx))
	}
	return errors.Join(errs...)
}

// Follow starts the group when leading turns true and stops it (waiting
// for passes in progress to return) when it turns false: what a lease
// calls on every change of the lead.
func (g Group) Follow(leading bool) error {
	if leading {
		return g.Start(context.Background())
	}
	return g.Stop(context.Background())
}
