// Command nats-creds makes the NATS security material of a deployment:
// an authority (operator, system and pipeline accounts), one credentials
// file per role, and the server configuration block that trusts them; or,
// with --permissions, prints every role's allow list.
//
//	nats-creds --out /etc/cyberimage/creds   # authority.json (secret), <role>.creds, server-auth.conf
//	nats-creds --out DIR                     # again: keeps the authority, issues fresh creds (rotation)
//	nats-creds --out DIR --new-authority     # a new authority: every old credential stops working
//	nats-creds --permissions                 # the allow lists, as infra/nats/permissions.json
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"cyberimage/shared/natsauth"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("nats-creds", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "folder for authority.json, <role>.creds and server-auth.conf")
	fresh := fs.Bool("new-authority", false, "make a new authority even if the folder has one (revokes every credential)")
	perms := fs.Bool("permissions", false, "print every role's allow list as JSON and exit")
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
	if err := a.Save(*out); err != nil {
		fmt.Fprintf(stderr, "nats-creds: %v\n", err)
		return 1
	}
	conf, err := a.ServerConfig()
	if err == nil {
		err = os.WriteFile(filepath.Join(*out, "server-auth.conf"), []byte(conf), 0o600)
	}
	if err != nil {
		fmt.Fprintf(stderr, "nats-creds: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %s: authority.json (keep it secret), server-auth.conf (include it in nats-server.conf), and credentials for %v\n",
		*out, natsauth.Roles())
	return 0
}
