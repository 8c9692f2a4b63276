package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"

	"cyberimage/shared/natsauth"
)

// revoke revokes every credentials file issued for each name given: the
// authority's account JWT lists their users as revoked, server-auth.conf is
// written again (servers restarted from it keep refusing them), and, with
// --nats-url, the running servers are told at once, which closes the
// revoked users' connections.
func revoke(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("nats-creds revoke", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "folder holding authority.json")
	role := fs.String("role", "", "revoke only this role's identity of that name (client, runner, ingest, supervisor, admin; default any)")
	url := fs.String("nats-url", "", "push the revocation to the running servers at this URL (a comma-separated list for a cluster)")
	ca := fs.String("nats-tls-ca", "", "CA certificate (PEM) of the servers, for TLS")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: nats-creds revoke --out DIR [--role ROLE] [--nats-url URL] NAME...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *out == "" || fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	a, ok, err := natsauth.Load(*out)
	if err == nil && !ok {
		err = fmt.Errorf("no authority.json in %s", *out)
	}
	if err != nil {
		fmt.Fprintf(stderr, "nats-creds: %v\n", err)
		return 1
	}
	for _, name := range fs.Args() {
		n, err := a.Revoke(natsauth.Role(*role), name)
		if err != nil {
			fmt.Fprintf(stderr, "nats-creds: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "revoked %s: %d credentials file(s)\n", name, n)
	}
	if err := saveTrust(a, *out); err != nil {
		fmt.Fprintf(stderr, "nats-creds: %v\n", err)
		return 1
	}
	if *url == "" {
		fmt.Fprintf(stdout, "wrote %s: reload or restart the servers with server-auth.conf, or run again with --nats-url to apply it now\n", *out)
		return 0
	}
	var opts []nats.Option
	if *ca != "" {
		opts = append(opts, nats.RootCAs(*ca))
	}
	nc, err := a.ConnectSystem(*url, opts...)
	if err != nil {
		fmt.Fprintf(stderr, "nats-creds: connect %s: %v\n", *url, err)
		return 1
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Push(ctx, nc); err != nil {
		fmt.Fprintf(stderr, "nats-creds: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, "pushed to the running servers: revoked connections are closed and refused from now on")
	return 0
}

// saveTrust writes the authority and the server configuration that trusts
// it, as it now stands.
func saveTrust(a *natsauth.Authority, dir string) error {
	if err := a.SaveAuthority(dir); err != nil {
		return err
	}
	conf, err := a.ServerConfig()
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "server-auth.conf"), []byte(conf), 0o600)
}
