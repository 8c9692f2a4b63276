package main

import (
	"context"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go"

	"cyberimage/tools/internal/benchstack"
)

// fleet is the services as processes: one supervisor, one ingest and the
// runners, each runner with credentials issued in its own name, as a
// deployment gives them. Runners come and go (killed, started again under
// the same name); the rest stay up for the whole run.
type fleet struct {
	svc *benchstack.Services
	nc  *nats.Conn // the supervisor's read rights: heartbeats

	mu      sync.Mutex
	runners map[string]*benchstack.Proc
	names   []string
}

// start runs the supervisor and ingest, each waited for until /healthz
// answers, then the runners.
func (f *fleet) start(ctx context.Context, runners int) error {
	if _, err := f.svc.StartSupervisor(ctx, "recovery-supervisor"); err != nil {
		return err
	}
	if _, err := f.svc.StartIngest(ctx); err != nil {
		return err
	}
	f.runners = map[string]*benchstack.Proc{}
	for i := 1; i <= runners; i++ {
		id := fmt.Sprintf("runner-%d", i)
		f.names = append(f.names, id)
		if err := f.startRunner(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// startRunner starts runner id (again) and waits for its first heartbeat.
func (f *fleet) startRunner(ctx context.Context, id string) error {
	p, err := f.svc.StartRunner(ctx, f.nc, id, "CYBERIMAGE_SLOTS=1", "CYBERIMAGE_INTRA_OP_THREADS=1")
	if p != nil {
		f.mu.Lock()
		f.runners[id] = p
		f.mu.Unlock()
	}
	return err
}

func (f *fleet) runner(id string) *benchstack.Proc {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.runners[id]
}
