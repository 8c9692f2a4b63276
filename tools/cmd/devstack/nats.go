package main

import (
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"cyberimage/shared/natsauth"
	"cyberimage/shared/natscluster"
)

// startNATS runs the dev stack's embedded NATS server with JetStream on
// loopback, trusting auth: every client needs a role's credentials.
func startNATS(storeDir string, port int, auth *natsauth.Authority, sync natscluster.Sync) (*server.Server, error) {
	opts := &server.Options{
		ServerName: "cyberimage-dev",
		Host:       "127.0.0.1",
		Port:       port,
		JetStream:  true,
		StoreDir:   storeDir,
		NoSigs:     true,
	}
	sync.Apply(opts)
	if err := auth.Configure(opts); err != nil {
		return nil, fmt.Errorf("nats: %w", err)
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("nats: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(15 * time.Second) {
		ns.Shutdown()
		return nil, fmt.Errorf("nats: not ready on 127.0.0.1:%d (is the port taken?)", port)
	}
	return ns, nil
}
