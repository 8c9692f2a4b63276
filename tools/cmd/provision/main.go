// Command provision creates or updates the pipeline's streams, consumers
// and buckets with the given settings: the one step allowed to change them
// (services only check them). make run runs it in-process; deployments run
// it with the admin role's credentials before starting services, and again
// after changing a setting or adding a model.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"cyberimage/shared/bus"
	"cyberimage/shared/config"
	"cyberimage/shared/models"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	l := config.NewLoader("provision", stderr)
	var conn bus.Conn
	var settings bus.Settings
	var modelsDir string
	var timeout, keep time.Duration
	conn.Bind(l)
	settings.Bind(l)
	l.String(&modelsDir, "models-dir", "infra/models", "folder of model folders: each gets its runners' consumer")
	l.Duration(&timeout, "provision-timeout", time.Minute, "how long to wait for NATS")
	l.Duration(&keep, "provision-keep", 0, "after provisioning, keep checking every this long and repair what went missing or was changed (0: exit)")
	if err := l.Parse(args); err != nil {
		if errors.Is(err, config.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "provision: invalid configuration:\n%v\n", err)
		return 2
	}
	settings.Check(l)
	conn.Check(l)
	if err := l.Err(); err != nil {
		fmt.Fprintf(stderr, "provision: invalid configuration:\n%v\n", err)
		return 2
	}
	catalog, err := models.Load(modelsDir, "")
	if err != nil {
		fmt.Fprintf(stderr, "provision: %v\n", err)
		return 2
	}
	nc, js, err := bus.Connect(conn, "provision", nil)
	if err != nil {
		fmt.Fprintf(stderr, "provision: %v\n", err)
		return 1
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	err = bus.Provision(ctx, js, settings, catalog.Names()...)
	cancel()
	if err != nil {
		fmt.Fprintf(stderr, "provision: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "provisioned on %s: streams, buckets, and the runners' consumers of %v (ack wait %s, max deliver %d, replicas %d)\n",
		conn.Redacted(), catalog.Names(), settings.AckWait, settings.MaxDeliver, settings.Replicas)
	if keep <= 0 {
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(stdout, "keeping the layout: checking every %s\n", keep)
	bus.Keep(ctx, js, settings, keep, func(err error) {
		fmt.Fprintf(stdout, "%s repaired the layout: %v\n", time.Now().UTC().Format(time.RFC3339), err)
	}, catalog.Names()...)
	return 0
}
