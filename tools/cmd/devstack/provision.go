package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"cyberimage/shared/bus"
	"cyberimage/shared/config"
	"cyberimage/shared/models"
	"cyberimage/shared/objectstore"
	"cyberimage/shared/s3layout"
	"cyberimage/tools/internal/s3access"
)

// provision creates the streams, consumers and buckets before any service
// starts, as the provision command does in a deployment: services only
// check them. The settings come from the same CYBERIMAGE_* variables the
// services read (CYBERIMAGE_ACK_WAIT=2s make run provisions with 2 s).
func provision(ctx context.Context, natsURL, adminCreds string) ([]string, error) {
	l := config.NewLoader("devstack", io.Discard)
	var settings bus.Settings
	var modelsDir string
	settings.Bind(l)
	l.String(&modelsDir, "models-dir", "infra/models", "")
	if err := l.Parse(nil); err != nil {
		return nil, err
	}
	settings.Check(l)
	if err := l.Err(); err != nil {
		return nil, err
	}
	catalog, err := models.Load(modelsDir, "")
	if err != nil {
		return nil, err
	}
	nc, js, err := bus.Connect(bus.Conn{URL: natsURL, CredsFile: adminCreds}, "devstack provision", nil)
	if err != nil {
		return nil, err
	}
	// Bounded (bus.DefaultProvisionTimeout) and said aloud: on a cluster
	// the meta leader may not yet place R3 streams on every node.
	err = bus.ProvisionWith(ctx, js, bus.ProvisionParams{Settings: settings, Models: catalog.Names(),
		Progress: func(r bus.ProvisionRetry) { say("devstack", "provision %s", r) }})
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("provision: %w", err)
	}
	// Then keep it, as a deployment runs provision --provision-keep: a
	// consumer deleted by hand is back within seconds.
	go func() {
		defer nc.Close()
		bus.Keep(ctx, js, settings, 2*time.Second, func(err error) { say("devstack", "repaired the NATS layout: %v", err) }, catalog.Names()...)
	}()
	return catalog.Names(), nil
}

// provisionS3 makes the bucket and each role's MinIO user with the root key,
// which only MinIO itself and this step hold: the services get their own.
func provisionS3(ctx context.Context, s3Addr string, users map[s3access.Role]s3access.User) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	root := objectstore.Config{Endpoint: s3Addr, AccessKey: devRootUser, SecretKey: devRootPassword, Bucket: s3layout.DefaultBucket}
	if err := s3access.Provision(ctx, root, users); err != nil {
		return fmt.Errorf("provision s3 users: %w", err)
	}
	return nil
}
