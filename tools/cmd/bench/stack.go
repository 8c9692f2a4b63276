package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"cyberimage/shared/natsauth"
	"cyberimage/shared/objectstore"
)

// stack is everything the benchmark starts: an embedded NATS server, a
// MinIO process and the service processes. close stops all of it, in the
// reverse order of starting, by PID; it runs on every exit path.
type stack struct {
	root   string // repository root
	tmp    string // temp dir: stores, binaries; removed by close
	logDir string
	bins   map[string]string

	// nats are the embedded servers: one, or a cluster with -replicas.
	nats []*server.Server
	s3   objectstore.Config
	// With -auth: the authority the server trusts and the folder of
	// <role>.creds; with -tls: the CA clients verify the server with.
	auth     *natsauth.Authority
	replicas int
	credsDir string
	caFile   string
	minio    *proc

	mu    sync.Mutex
	procs []*proc // every child, in start order
}

// proc is one child process.
type proc struct {
	name   string
	cmd    *exec.Cmd
	log    *os.File
	exited chan struct{}
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// stop sends SIGTERM and waits up to grace, then kills. Safe to call twice.
func (p *proc) stop(grace time.Duration) {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

func newStack(root, logDir string) (*stack, error) {
	tmp, err := os.MkdirTemp("", "cyberimage-bench-")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, err
	}
	return &stack{root: root, tmp: tmp, logDir: logDir, bins: map[string]string{}}, nil
}

// binaries are the programs the benchmark runs, by name, with their
// packages.
var binaries = map[string]string{
	"ingest":      "./services/ingest/cmd/ingest",
	"gpu-runner":  "./services/gpu-runner/cmd/gpu-runner",
	"supervisor":  "./services/supervisor/cmd/supervisor",
	"bench-model": "./services/gpu-runner/cmd/bench-model",
}

// usePrebuilt takes the binaries from dir instead of building them, to
// compare two builds of the services on the same harness.
func (s *stack) usePrebuilt(dir string) error {
	for name := range binaries {
		p, err := filepath.Abs(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("-bin: %w", err)
		}
		s.bins[name] = p
	}
	return nil
}

// build compiles the service binaries and bench-model once, in one go
// build so the two cores compile packages in parallel.
func (s *stack) build(ctx context.Context) error {
	dir := filepath.Join(s.tmp, "bin")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	pkgs := binaries
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	for name, pkg := range pkgs {
		args = append(args, pkg)
		s.bins[name] = filepath.Join(dir, name)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = s.root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build: %w", err)
	}
	return nil
}

// startNATS runs the embedded JetStream server on a free loopback port
// with its store in the temp dir, as the dev stack does; with -replicas N,
// N servers clustered in this process, so R3 costs what it costs on one
// machine (every write stored three times, and the raft traffic).
func (s *stack) startNATS(o options) error {
	nodes := max(o.replicas, 1)
	s.replicas = nodes
	var routes []*url.URL
	clusterPorts := make([]int, nodes)
	for i := range clusterPorts {
		port, err := freePort()
		if err != nil {
			return err
		}
		clusterPorts[i] = port
		routes = append(routes, &url.URL{Scheme: "nats-route", Host: "127.0.0.1:" + strconv.Itoa(port)})
	}
	if o.auth {
		a, err := natsauth.New()
		if err != nil {
			return err
		}
		s.credsDir = filepath.Join(s.tmp, "creds")
		if err := a.Save(s.credsDir); err != nil {
			return err
		}
		s.auth = a
	}
	var tlsConfig *tls.Config
	if o.tls {
		caFile, cfg, err := natsauth.SelfSignedTLS(s.tmp)
		if err != nil {
			return err
		}
		tlsConfig, s.caFile = cfg, caFile
	}
	for i := range nodes {
		opts := &server.Options{
			ServerName: fmt.Sprintf("cyberimage-bench-%d", i+1),
			Host:       "127.0.0.1",
			Port:       server.RANDOM_PORT,
			JetStream:  true,
			StoreDir:   filepath.Join(s.tmp, fmt.Sprintf("nats-%d", i+1)),
			NoLog:      true,
			NoSigs:     true,
		}
		if nodes > 1 {
			opts.Cluster = server.ClusterOpts{Name: "cyberimage-bench", Host: "127.0.0.1", Port: clusterPorts[i]}
			opts.Routes = routes
		}
		if s.auth != nil {
			if err := s.auth.Configure(opts); err != nil {
				return err
			}
		}
		if tlsConfig != nil {
			opts.TLS, opts.TLSConfig = true, tlsConfig
		}
		ns, err := server.NewServer(opts)
		if err != nil {
			return fmt.Errorf("nats: %w", err)
		}
		go ns.Start()
		s.nats = append(s.nats, ns)
	}
	for _, ns := range s.nats {
		if !ns.ReadyForConnections(30 * time.Second) {
			return errors.New("nats: not ready after 30s")
		}
	}
	if nodes > 1 {
		return s.waitJetStreamCluster(30 * time.Second)
	}
	return nil
}

// waitJetStreamCluster waits until the cluster has a meta leader, before
// which no stream can be made.
func (s *stack) waitJetStreamCluster(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		for _, ns := range s.nats {
			if ns.JetStreamIsLeader() {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New("nats: no JetStream meta leader after " + limit.String())
}

// natsURL lists every embedded server, as services take it.
func (s *stack) natsURL() string {
	urls := make([]string, len(s.nats))
	for i, ns := range s.nats {
		urls[i] = ns.ClientURL()
	}
	return strings.Join(urls, ",")
}

// natsOptions are what a client of the bench's server needs: the admin's
// credentials with -auth, the CA with -tls.
func (s *stack) natsOptions(name string) []nats.Option {
	opts := []nats.Option{nats.Name(name)}
	if s.auth != nil {
		opts = append(opts, nats.UserCredentials(natsauth.CredsPath(s.credsDir, natsauth.Admin)))
	}
	if s.caFile != "" {
		opts = append(opts, nats.RootCAs(s.caFile))
	}
	return opts
}

// roleEnv is what a service of a role gets to reach the bench's server.
func (s *stack) roleEnv(role natsauth.Role) []string {
	return s.identityEnv(role, natsauth.DefaultName(role))
}

// identityEnv is what one named identity of a role (a runner) gets.
func (s *stack) identityEnv(role natsauth.Role, name string) []string {
	var env []string
	if s.auth != nil {
		path, err := s.auth.SaveCreds(s.credsDir, role, name, natsauth.DefaultExpiry)
		if err != nil {
			panic(fmt.Sprintf("bench: credentials of %s %s: %v", role, name, err))
		}
		env = append(env, "CYBERIMAGE_NATS_CREDS="+path)
	}
	if s.caFile != "" {
		env = append(env, "CYBERIMAGE_NATS_TLS_CA="+s.caFile)
	}
	return env
}

// startMinIO runs a MinIO server on free ports with its data in the temp
// dir (the flags and environment of shared/testenv) and waits until ready.
func (s *stack) startMinIO(ctx context.Context, bin string) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	console, err := freePort()
	if err != nil {
		return err
	}
	s.s3 = objectstore.Config{
		Endpoint:  "127.0.0.1:" + strconv.Itoa(port),
		AccessKey: objectstore.DevAccessKey,
		SecretKey: objectstore.DevSecretKey,
		Bucket:    "cyberimage",
	}
	p, err := s.start("minio", bin, []string{"server", "--quiet", "--address", s.s3.Endpoint,
		"--console-address", "127.0.0.1:" + strconv.Itoa(console), filepath.Join(s.tmp, "minio")},
		[]string{"MINIO_ROOT_USER=" + s.s3.AccessKey, "MINIO_ROOT_PASSWORD=" + s.s3.SecretKey,
			"MINIO_BROWSER=off", "MINIO_UPDATE=off"})
	if err != nil {
		return err
	}
	s.minio = p
	return waitHTTP(ctx, p, "http://"+s.s3.Endpoint+"/minio/health/ready", 60*time.Second)
}

// modelsDir is the catalog the services serve: the repository's, or with
// only, a temp folder linking just those of its models.
func (s *stack) modelsDir(only []string) (string, error) {
	repo := filepath.Join(s.root, "infra", "models")
	if len(only) == 0 {
		return repo, nil
	}
	dir := filepath.Join(s.tmp, "models")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	for _, name := range only {
		if _, err := os.Stat(filepath.Join(repo, name, "manifest.json")); err != nil {
			return "", fmt.Errorf("-models: %w", err)
		}
		if err := os.Symlink(filepath.Join(repo, name), filepath.Join(dir, name)); err != nil {
			return "", err
		}
	}
	return dir, nil
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

// serviceEnv is the CYBERIMAGE_* configuration every service gets.
func (s *stack) serviceEnv(ortLib, modelsDir string) []string {
	return []string{
		// A bench stack of its own, with an open NATS server.
		"CYBERIMAGE_DEV=true",
		"CYBERIMAGE_NATS_URL=" + s.natsURL(),
		"CYBERIMAGE_REPLICAS=" + strconv.Itoa(max(s.replicas, 1)),
		"CYBERIMAGE_S3_ENDPOINT=" + s.s3.Endpoint,
		"CYBERIMAGE_S3_BUCKET=" + s.s3.Bucket,
		"CYBERIMAGE_S3_ACCESS_KEY=" + s.s3.AccessKey,
		"CYBERIMAGE_S3_SECRET_KEY=" + s.s3.SecretKey,
		"CYBERIMAGE_MODELS_DIR=" + modelsDir,
		"CYBERIMAGE_DEFAULT_MODEL=demo",
		"CYBERIMAGE_ORT_LIB=" + ortLib,
		"CYBERIMAGE_LOG_FORMAT=json",
		"CYBERIMAGE_LOG_LEVEL=info",
	}
}

// start runs a child with its output in logDir/<name>.log. Its own process
// group keeps a terminal's Ctrl-C away from it, so the harness stops the
// children in order; Pdeathsig kills it if the harness dies without close.
func (s *stack) start(name, bin string, args, env []string) (*proc, error) {
	logFile, err := os.Create(filepath.Join(s.logDir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = s.root
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logFile, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); logFile.Close(); close(p.exited) }()
	s.mu.Lock()
	s.procs = append(s.procs, p)
	s.mu.Unlock()
	return p, nil
}

// all returns every child started so far.
func (s *stack) all() []*proc {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*proc(nil), s.procs...)
}

// services returns the children other than MinIO.
func (s *stack) services() []*proc {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*proc
	for _, p := range s.procs {
		if p != s.minio {
			out = append(out, p)
		}
	}
	return out
}

// close stops every child in reverse start order (services before the
// stores they write to), then NATS, and removes the temp dir.
func (s *stack) close() {
	s.mu.Lock()
	procs := s.procs
	s.procs = nil
	s.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].stop(10 * time.Second)
	}
	for _, ns := range s.nats {
		ns.Shutdown()
		ns.WaitForShutdown()
	}
	_ = os.RemoveAll(s.tmp)
}

// waitHTTP polls url until it answers 200, the process exits or limit ends.
func waitHTTP(ctx context.Context, p *proc, url string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.exited:
			return fmt.Errorf("%s exited before it was ready (see its log)", p.name)
		default:
		}
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready after %s", p.name, limit)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// repoRoot walks up from the working directory to the folder with go.work.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.work above the working directory: run from the repository")
		}
		dir = parent
	}
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
