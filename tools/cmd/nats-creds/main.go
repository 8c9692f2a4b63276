// Command nats-creds makes the NATS security material of a deployment:
// an authority (operator, system and pipeline accounts), one credentials
// file per role, and the server configuration block that trusts them; or,
// with --permissions, prints every role's allow list.
//
//	nats-creds --out /etc/cyberimage/creds   # authority.json (secret), <role>.creds, server-auth.conf
//	nats-creds --out DIR --runner gpu-0 --runner gpu-1   # runner.<name>.creds, one per runner (role files only if missing)
//	nats-creds --out DIR --client alice      # client.alice.creds (inbox prefix _INBOX.client.alice)
//	nats-creds --out DIR --expires 720h      # every file issued now expires in 30 days (default 90 days)
//	nats-creds --out DIR                     # again: keeps the authority, issues fresh creds (rotation)
//	nats-creds --out DIR --new-authority     # a new authority: every old credential stops working
//	nats-creds --permissions                 # the allow lists, as infra/nats/permissions.json
//	nats-creds revoke --out DIR --nats-url URL NAME   # revoke every file issued for NAME, live
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"cyberimage/shared/natsauth"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "revoke" {
		return revoke(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("nats-creds", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "folder for authority.json, <role>.creds and server-auth.conf")
	fresh := fs.Bool("new-authority", false, "make a new authority even if the folder has one (revokes every credential)")
	perms := fs.Bool("permissions", false, "print every role's allow list as JSON and exit")
	var runners, clients names
	fs.Var(&runners, "runner", "also issue runner.<name>.creds for the runner of this name (repeat for each runner)")
	fs.Var(&clients, "client", "also issue client.<name>.creds for the client of this name, its inbox prefix _INBOX.client.<name> (repeat)")
	expires := fs.Duration("expires", natsauth.DefaultExpiry, "credentials issued now stop working after this long (0: never)")
	jsDisk := fs.String("js-max-disk", "", "bound the pipeline account's JetStream disk (e.g. 64GiB; at least 2GiB, at most each server's max_file_store); empty: keep")
	jsMem := fs.String("js-max-mem", "256MiB", "with --js-max-disk: the account's JetStream memory bound")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *perms {
		_, _ = stdout.Write(natsauth.PermissionsDocument())
		return 0
	}
	if *out == "" {
		fmt.Fprintln(stderr, "nats-creds: --out or --permissions is required")
		return 2
	}
	a, ok, err := natsauth.Load(*out)
	if err != nil {
		fmt.Fprintf(stderr, "nats-creds: %v\n", err)
		return 1
	}
	if !ok || *fresh {
		if a, err = natsauth.New(); err != nil {
			fmt.Fprintf(stderr, "nats-creds: %v\n", err)
			return 1
		}
	}
	if *jsDisk != "" {
		if err := setLimits(a, *jsDisk, *jsMem); err != nil {
			fmt.Fprintf(stderr, "nats-creds: %v\n", err)
			return 2
		}
	}
	issued, err := issue(a, *out, *expires, runners, clients)
	if err != nil {
		fmt.Fprintf(stderr, "nats-creds: %v\n", err)
		return 1
	}
	if err := saveTrust(a, *out); err != nil {
		fmt.Fprintf(stderr, "nats-creds: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %s: authority.json (keep it secret), server-auth.conf (include it in nats-server.conf), and credentials %v (expire: %s)\n",
		*out, issued, expiry(*expires))
	return 0
}

// issue writes the authority and credentials: with named runners or
// clients, those (and any role file missing), leaving the others as they
// are, since services may be running with them; without, every role's
// file anew (rotation).
func issue(a *natsauth.Authority, dir string, expires time.Duration, runners, clients []string) ([]string, error) {
	if err := a.SaveAuthority(dir); err != nil {
		return nil, err
	}
	named := len(runners)+len(clients) > 0
	var issued []string
	add := func(r natsauth.Role, name string) error {
		path, err := a.SaveCreds(dir, r, name, expires)
		issued = append(issued, filepath.Base(path))
		return err
	}
	for _, r := range natsauth.ServiceRoles() {
		if _, err := os.Stat(natsauth.CredsPath(dir, r)); named && err == nil {
			continue
		}
		if err := add(r, natsauth.DefaultName(r)); err != nil {
			return nil, err
		}
	}
	for _, n := range runners {
		if err := add(natsauth.Runner, n); err != nil {
			return nil, err
		}
	}
	for _, n := range clients {
		if err := add(natsauth.Client, n); err != nil {
			return nil, err
		}
	}
	return issued, nil
}

func expiry(d time.Duration) string {
	if d == 0 {
		return "never"
	}
	return "in " + d.String()
}

// names is a repeatable string flag.
type names []string

func (n *names) String() string     { return strings.Join(*n, ",") }
func (n *names) Set(v string) error { *n = append(*n, v); return natsauth.CheckName(v) }
