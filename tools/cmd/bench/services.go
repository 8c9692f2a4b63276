package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"cyberimage/shared/bus"
	"cyberimage/shared/models"
	"cyberimage/shared/natsauth"
)

// startServices starts the supervisor, ingest and the runners as processes,
// each waited for: the supervisor and ingest until their /healthz answers,
// each runner until its first heartbeat (sent once it pulls work).
func (s *stack) startServices(ctx context.Context, nc *nats.Conn, o options) error {
	env := s.serviceEnv(o.ortLib, o.modelsDir)
	// Provision first, as a deployment does: services only check.
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	catalog, err := models.Load(o.modelsDir, "")
	if err != nil {
		return err
	}
	settings := bus.DefaultSettings()
	settings.Replicas = max(o.replicas, 1)
	if err := bus.Provision(ctx, js, settings, catalog.Names()...); err != nil {
		return err
	}
	supAddr, err := loopbackAddr()
	if err != nil {
		return err
	}
	supEnv := append(append(env, s.roleEnv(natsauth.Supervisor)...), "CYBERIMAGE_SUPERVISOR_ADDR="+supAddr, "CYBERIMAGE_SUPERVISOR_ID=bench-supervisor")
	sup, err := s.start("supervisor", s.bins["supervisor"], nil, append(supEnv, o.supervisorEnv...))
	if err != nil {
		return err
	}
	if err := waitHTTP(ctx, sup, "http://"+supAddr+"/healthz", 60*time.Second); err != nil {
		return err
	}
	ingestAddr, err := loopbackAddr()
	if err != nil {
		return err
	}
	ing, err := s.start("ingest", s.bins["ingest"], nil, append(append(env, s.roleEnv(natsauth.Ingest)...), "CYBERIMAGE_INGEST_ADDR="+ingestAddr))
	if err != nil {
		return err
	}
	if err := waitHTTP(ctx, ing, "http://"+ingestAddr+"/healthz", 60*time.Second); err != nil {
		return err
	}
	for i := 1; i <= o.runners; i++ {
		id := fmt.Sprintf("runner-%d", i)
		sub, err := nc.SubscribeSync(bus.HeartbeatSubject(id))
		if err != nil {
			return err
		}
		runnerEnv := append(append(append([]string{}, env...), s.identityEnv(natsauth.Runner, id)...), "CYBERIMAGE_RUNNER_ID="+id,
			"CYBERIMAGE_SLOTS="+strconv.Itoa(o.slots), "CYBERIMAGE_INTRA_OP_THREADS=1")
		p, err := s.start(id, s.bins["gpu-runner"], nil, append(runnerEnv, o.runnerEnv...))
		if err != nil {
			_ = sub.Unsubscribe()
			return err
		}
		waitCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
		_, err = sub.NextMsgWithContext(waitCtx)
		cancel()
		_ = sub.Unsubscribe()
		if err != nil {
			return fmt.Errorf("%s sent no heartbeat (see %s/%s.log): %w", id, s.logDir, p.name, err)
		}
	}
	return nil
}

func loopbackAddr() (string, error) {
	port, err := freePort()
	if err != nil {
		return "", err
	}
	return "127.0.0.1:" + strconv.Itoa(port), nil
}
