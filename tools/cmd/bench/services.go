package main

import (
	"context"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"cyberimage/shared/bus"
	"cyberimage/shared/models"
	"cyberimage/shared/natsauth"
	"cyberimage/tools/internal/benchstack"
)

// startServices starts the supervisor, ingest and the runners as processes,
// each waited for: the supervisor and ingest until their /healthz answers,
// each runner until its first heartbeat (sent once it pulls work), heard on
// nc (the supervisor's read rights).
func (s *stack) startServices(ctx context.Context, nc *nats.Conn, o options) error {
	// Provision first, as a deployment does, as admin: services only check.
	catalog, err := models.Load(o.modelsDir, "")
	if err != nil {
		return err
	}
	admin, err := s.connect("bench admin", natsauth.Admin)
	if err != nil {
		return err
	}
	js, err := jetstream.New(admin)
	if err == nil {
		settings := bus.DefaultSettings()
		settings.Replicas = s.replicas
		err = bus.Provision(ctx, js, settings, catalog.Names()...)
	}
	admin.Close()
	if err != nil {
		return err
	}
	svc := &benchstack.Services{Procs: s.procs, Bins: s.bins, Env: s.stores(o.ortLib, o.modelsDir).Env(), Creds: s.creds}
	if _, err := svc.StartSupervisor(ctx, "bench-supervisor", o.supervisorEnv...); err != nil {
		return err
	}
	if _, err := svc.StartIngest(ctx); err != nil {
		return err
	}
	for i := 1; i <= o.runners; i++ {
		extra := append([]string{"CYBERIMAGE_SLOTS=" + strconv.Itoa(o.slots), "CYBERIMAGE_INTRA_OP_THREADS=1"}, o.runnerEnv...)
		if _, err := svc.StartRunner(ctx, nc, fmt.Sprintf("runner-%d", i), extra...); err != nil {
			return err
		}
	}
	return nil
}
