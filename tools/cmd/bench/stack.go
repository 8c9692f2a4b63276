package main

import (
	"context"
	"crypto/tls"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"

	"cyberimage/shared/bus"
	"cyberimage/shared/natsauth"
	"cyberimage/shared/objectstore"
	"cyberimage/tools/internal/benchstack"
)

// stack is everything the benchmark starts: embedded NATS servers, a
// MinIO process and the service processes. close stops all of it, in the
// reverse order of starting, by PID; it runs on every exit path.
type stack struct {
	root  string // repository root
	tmp   string // temp dir: stores, binaries; removed by close
	bins  map[string]string
	procs *benchstack.Procs // every child, its log in the -out folder's logs/

	// nats are the embedded servers: one, or a cluster with -replicas.
	nats     *benchstack.Embedded
	replicas int
	s3       objectstore.Config
	// With -auth: the authority the server trusts and the folder of
	// <role>.creds; with -tls: the CA clients verify the server with.
	creds  *benchstack.Creds
	caFile string
	minio  *benchstack.Proc
}

func newStack(root, logDir string) (*stack, error) {
	tmp, err := os.MkdirTemp("", "cyberimage-bench-")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, err
	}
	return &stack{root: root, tmp: tmp, bins: map[string]string{}, procs: benchstack.NewProcs(root, logDir)}, nil
}

// binaries are the programs the benchmark runs, by name, with their
// packages: the services and bench-model.
func binaries() map[string]string {
	pkgs := map[string]string{"bench-model": "./tools/cmd/bench-model"}
	for name, pkg := range benchstack.ServicePackages {
		pkgs[name] = pkg
	}
	return pkgs
}

// usePrebuilt takes the binaries from dir instead of building them, to
// compare two builds of the services on the same harness.
func (s *stack) usePrebuilt(dir string) (err error) {
	s.bins, err = benchstack.Prebuilt(dir, binaries())
	return err
}

// build compiles the service binaries and bench-model once, in one go
// build so the two cores compile packages in parallel.
func (s *stack) build(ctx context.Context) (err error) {
	s.bins, err = benchstack.Build(ctx, s.root, filepath.Join(s.tmp, "bin"), binaries())
	return err
}

// startNATS runs the embedded JetStream servers with their stores in the
// temp dir, as the dev stack does; with -replicas N, N servers clustered
// in this process; with -auth, trusting a fresh authority; with -tls,
// behind a throwaway CA.
func (s *stack) startNATS(o options) error {
	s.replicas = max(o.replicas, 1)
	if o.auth {
		var err error
		if s.creds, err = benchstack.NewCreds(filepath.Join(s.tmp, "creds")); err != nil {
			return err
		}
	}
	var tlsConfig *tls.Config
	if o.tls {
		caFile, cfg, err := natsauth.SelfSignedTLS(s.tmp)
		if err != nil {
			return err
		}
		tlsConfig, s.caFile = cfg, caFile
	}
	eo := benchstack.EmbeddedOptions{Name: "cyberimage-bench", Nodes: s.replicas, Dir: s.tmp, TLS: tlsConfig}
	if s.creds != nil {
		eo.Auth = s.creds.Auth
	}
	var err error
	s.nats, err = benchstack.StartEmbedded(eo)
	return err
}

// natsURL lists every embedded server, as services take it.
func (s *stack) natsURL() string { return s.nats.URL() }

// connect opens a connection to the bench's server as role (its
// credentials with -auth, its inbox prefix with them), verifying the CA
// with -tls, reconnecting for as long as the services do.
func (s *stack) connect(name string, role natsauth.Role) (*nats.Conn, error) {
	opts := []nats.Option{nats.Name(name), nats.MaxReconnects(-1)}
	if s.creds != nil {
		creds, err := bus.CredentialOptions(s.creds.Path(role))
		if err != nil {
			return nil, err
		}
		opts = append(opts, creds...)
	}
	if s.caFile != "" {
		opts = append(opts, nats.RootCAs(s.caFile))
	}
	return nats.Connect(s.natsURL(), opts...)
}

// natsOptions are what the raw NATS measurement, which makes its own
// streams outside the product's layout, needs: the admin's credentials
// with -auth, the CA with -tls.
func (s *stack) natsOptions(name string) []nats.Option {
	opts := []nats.Option{nats.Name(name)}
	if s.creds != nil {
		opts = append(opts, nats.UserCredentials(s.creds.Path(natsauth.Admin)))
	}
	if s.caFile != "" {
		opts = append(opts, nats.RootCAs(s.caFile))
	}
	return opts
}

// adminEnv is what bench-model's floor, which plays every role and makes
// its own streams, gets to reach the bench's server.
func (s *stack) adminEnv() ([]string, error) {
	env, err := s.creds.Env(natsauth.Admin, natsauth.DefaultName(natsauth.Admin))
	if err != nil {
		return nil, err
	}
	if s.caFile != "" {
		env = append(env, "CYBERIMAGE_NATS_TLS_CA="+s.caFile)
	}
	return env, nil
}

// startMinIO runs a MinIO server with its data in the temp dir.
func (s *stack) startMinIO(ctx context.Context, bin string) (err error) {
	s.s3, s.minio, err = benchstack.StartMinIO(ctx, s.procs, bin, s.tmp)
	return err
}

// stores is where the services find everything.
func (s *stack) stores(ortLib, modelsDir string) benchstack.Stores {
	return benchstack.Stores{NATSURL: s.natsURL(), Replicas: s.replicas, S3: s.s3, ModelsDir: modelsDir, ORTLib: ortLib, TLSCA: s.caFile}
}

// servedModels lists the models of a catalog folder.
func servedModels(dir string) []string {
	paths, _ := filepath.Glob(filepath.Join(dir, "*", "manifest.json"))
	names := make([]string, len(paths))
	for i, p := range paths {
		names[i] = filepath.Base(filepath.Dir(p))
	}
	return names
}

// all returns every child started so far.
func (s *stack) all() []*benchstack.Proc { return s.procs.All() }

// services returns the children other than MinIO.
func (s *stack) services() []*benchstack.Proc {
	var out []*benchstack.Proc
	for _, p := range s.procs.All() {
		if p != s.minio {
			out = append(out, p)
		}
	}
	return out
}

// close stops every child in reverse start order (services before the
// stores they write to), then NATS, and removes the temp dir.
func (s *stack) close() {
	s.procs.StopAll()
	if s.nats != nil {
		s.nats.Close()
	}
	_ = os.RemoveAll(s.tmp)
}

// settle waits until the harness and its children are nearly idle (MinIO
// scans its disks for a few seconds after it starts), so a measurement
// does not start on the tail of start-up work. It gives up after limit.
func (s *stack) settle(ctx context.Context, limit time.Duration) time.Duration {
	const window, idle = 500 * time.Millisecond, 0.10 // cores
	start := time.Now()
	for time.Since(start) < limit && ctx.Err() == nil {
		before := sampleCPU(s.all())
		time.Sleep(window)
		if used := sampleCPU(s.all()).since(before, 1); used.Ours/used.WallSeconds < idle {
			break
		}
	}
	return time.Since(start)
}
