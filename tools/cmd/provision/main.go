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
	"cyberimage/shared/objectstore"
	"cyberimage/tools/internal/s3access"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	l := config.NewLoader("provision", stderr)
	var conn bus.Conn
	var settings bus.Settings
	var s3 objectstore.Config
	var modelsDir, s3Users string
	var timeout, keep time.Duration
	conn.Bind(l)
	settings.Bind(l)
	s3.Bind(l)
	l.String(&s3Users, "s3-users-dir", "", "also make the bucket and the runner, supervisor and browser MinIO users with the S3 key given (MinIO's root or an admin), keys kept in DIR/s3-<role>.env (made when missing; delete one to rotate it)")
	l.String(&modelsDir, "models-dir", "infra/models", "folder of model folders: each gets its runners' consumer")
	l.Duration(&timeout, "provision-timeout", bus.DefaultProvisionTimeout, "how long to wait for NATS, and on a cluster for its nodes to join, printing a line per attempt")
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
	if s3Users != "" {
		s3.Check(l)
	}
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
	// A deployment may run this while its nodes still start: Provision
	// waits out what NATS ends by itself (no answer yet, a cluster whose
	// meta leader cannot place R3 streams yet), saying so each attempt,
	// and stops at once on anything else.
	err = bus.ProvisionWith(context.Background(), js, bus.ProvisionParams{Settings: settings, Models: catalog.Names(), Timeout: timeout,
		Progress: func(r bus.ProvisionRetry) { fmt.Fprintf(stdout, "provision: %s\n", r) }})
	if err != nil {
		fmt.Fprintf(stderr, "provision: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "provisioned on %s: streams, buckets, and the runners' consumers of %v (ack wait %s, max deliver %d, replicas %d)\n",
		conn.Redacted(), catalog.Names(), settings.AckWait, settings.MaxDeliver, settings.Replicas)
	if s3Users != "" {
		if err := provisionS3(s3, s3Users, timeout, stdout); err != nil {
			fmt.Fprintf(stderr, "provision: %v\n", err)
			return 1
		}
	}
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

// provisionS3 makes the bucket and the pipeline's MinIO users.
func provisionS3(s3 objectstore.Config, dir string, timeout time.Duration, stdout io.Writer) error {
	users, err := s3access.LoadOrCreate(dir)
	if err != nil {
		return fmt.Errorf("s3 users: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := s3access.Provision(ctx, s3, users); err != nil {
		return err
	}
	for _, r := range s3access.Roles {
		fmt.Fprintf(stdout, "s3 user %s (policy %s), keys in %s\n", users[r].AccessKey, s3access.PolicyName(r), s3access.EnvFile(dir, r))
	}
	return nil
}
