// Command devstack runs the whole pipeline on one machine for development:
// an embedded NATS server with JetStream, a MinIO server, ingest, N GPU
// runners and the supervisor. `make run` starts it. Ctrl-C stops everything
// in order; data stays under the data folder, so the next run keeps the
// jobs and images of this one.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"cyberimage/shared/natsauth"
	"cyberimage/shared/natscluster"
	"cyberimage/tools/internal/s3access"
)

type options struct {
	dataDir     string
	binDir      string
	toolsDir    string
	runners     int
	natsPort    int
	s3Port      int
	consolePort int
	supervisor  string
	natsNodes   int
	natsSync    string
}

func main() {
	var o options
	flag.StringVar(&o.dataDir, "data", envOr("CYBERIMAGE_DATA_DIR", ".data"), "folder for NATS and MinIO data [CYBERIMAGE_DATA_DIR]")
	flag.StringVar(&o.binDir, "bin", "bin", "folder of the service binaries")
	flag.StringVar(&o.toolsDir, "tools", ".tools", "folder of minio, nats and mc")
	flag.IntVar(&o.runners, "runners", envInt("CYBERIMAGE_RUNNERS", 2), "GPU runners to start [CYBERIMAGE_RUNNERS]")
	flag.IntVar(&o.natsPort, "nats-port", envInt("CYBERIMAGE_NATS_PORT", 4222), "NATS client port [CYBERIMAGE_NATS_PORT]")
	flag.IntVar(&o.s3Port, "s3-port", envInt("CYBERIMAGE_S3_PORT", 9000), "MinIO S3 port [CYBERIMAGE_S3_PORT]")
	flag.IntVar(&o.consolePort, "console-port", envInt("CYBERIMAGE_S3_CONSOLE_PORT", 9001), "MinIO console port [CYBERIMAGE_S3_CONSOLE_PORT]")
	flag.IntVar(&o.natsNodes, "nats-nodes", envInt("CYBERIMAGE_NATS_NODES", 1), "NATS servers: 1 (embedded) or a cluster of 3 or 5 nats-server processes with R3 streams [CYBERIMAGE_NATS_NODES]")
	flag.StringVar(&o.natsSync, "nats-sync", envOr("CYBERIMAGE_NATS_SYNC", ""), "JetStream fsync policy: empty (nats-server's default, every 2 minutes), always, or an interval such as 10s [CYBERIMAGE_NATS_SYNC]")
	flag.StringVar(&o.supervisor, "supervisor-addr", envOr("CYBERIMAGE_SUPERVISOR_ADDR", "127.0.0.1:8080"), "supervisor HTTP address [CYBERIMAGE_SUPERVISOR_ADDR]")
	flag.Parse()
	if o.runners < 1 {
		fmt.Fprintln(os.Stderr, "devstack: CYBERIMAGE_RUNNERS must be at least 1")
		os.Exit(2)
	}
	if o.natsNodes != 1 && o.natsNodes != 3 && o.natsNodes != 5 {
		fmt.Fprintln(os.Stderr, "devstack: CYBERIMAGE_NATS_NODES must be 1, 3 or 5 (a cluster needs an odd quorum)")
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintf(os.Stderr, "devstack: %v\n", err)
		os.Exit(1)
	}
}

func run(o options) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	// The stores hold every prompt, record and image: only their owner
	// may read them (folders made by earlier versions are closed too).
	for _, dir := range []string{o.dataDir, filepath.Join(o.dataDir, "nats"), filepath.Join(o.dataDir, "minio")} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		if err := os.Chmod(dir, 0o700); err != nil {
			return err
		}
	}
	auth, credsDir, err := authority(o.dataDir)
	if err != nil {
		return fmt.Errorf("nats credentials: %w", err)
	}
	sync, err := natscluster.ParseSync(o.natsSync)
	if err != nil {
		return fmt.Errorf("CYBERIMAGE_NATS_SYNC: %w", err)
	}
	var natsURL string
	if o.natsNodes == 1 {
		ns, err := startNATS(filepath.Join(o.dataDir, "nats"), o.natsPort, auth, sync)
		if err != nil {
			return err
		}
		defer func() { ns.Shutdown(); ns.WaitForShutdown(); say("devstack", "nats stopped") }()
		natsURL = ns.ClientURL()
		say("devstack", "nats listening on %s (JetStream data in %s)", natsURL, filepath.Join(o.dataDir, "nats"))
	} else {
		urls, stopCluster, err := startCluster(ctx, o, auth, sync)
		if err != nil {
			return err
		}
		defer func() { stopCluster(); say("devstack", "nats cluster stopped") }()
		natsURL = urls
		// Every stream and bucket at R3 unless set otherwise: an
		// acknowledged write is then on a majority and survives any one
		// node. Services read the same variable and check it.
		if os.Getenv("CYBERIMAGE_REPLICAS") == "" {
			os.Setenv("CYBERIMAGE_REPLICAS", "3")
		}
		say("devstack", "nats cluster of %d nodes on %s (R%s; data and logs in %s)", o.natsNodes, natsURL,
			os.Getenv("CYBERIMAGE_REPLICAS"), filepath.Join(o.dataDir, "nats-cluster"))
	}

	provisioned, err := provision(ctx, natsURL, natsauth.CredsPath(credsDir, natsauth.Admin))
	if err != nil {
		return err
	}
	say("devstack", "provisioned streams, buckets and the consumers of %v", provisioned)
	s3Users, err := s3access.LoadOrCreate(credsDir)
	if err != nil {
		return fmt.Errorf("s3 users: %w", err)
	}
	minio, minioNames, s3Addr, err := minioProcs(ctx, o, s3Users)
	if err != nil {
		return fmt.Errorf("minio: %w", err)
	}
	common := []string{
		// Dev mode: services may run without TLS; they still get their
		// own NATS credentials and S3 users below.
		"CYBERIMAGE_DEV=true",
		"CYBERIMAGE_NATS_URL=" + natsURL,
		"CYBERIMAGE_S3_ENDPOINT=" + s3Addr,
		"CYBERIMAGE_LOG_FORMAT=" + envOr("CYBERIMAGE_LOG_FORMAT", "console"),
		"CYBERIMAGE_SUPERVISOR_ADDR=" + o.supervisor,
	}
	token, tokenPath, err := adminToken(o.dataDir)
	if err != nil {
		return fmt.Errorf("admin token: %w", err)
	}
	say("devstack", "admin token for retry and cancel in %s", tokenPath)
	creds := func(r natsauth.Role) string { return "CYBERIMAGE_NATS_CREDS=" + natsauth.CredsPath(credsDir, r) }
	procs := append(minio,
		&process{name: "supervisor", path: filepath.Join(o.binDir, "supervisor"),
			env: slices.Concat([]string{"CYBERIMAGE_ADMIN_TOKEN=" + token, creds(natsauth.Supervisor)}, s3Users[s3access.Supervisor].Env(), common)},
		&process{name: "ingest", path: filepath.Join(o.binDir, "ingest"), env: append([]string{creds(natsauth.Ingest)}, common...)},
	)
	var runnerNames []string
	for i := 1; i <= o.runners; i++ {
		id := fmt.Sprintf("runner-%d", i)
		runnerNames = append(runnerNames, id)
		path, err := runnerCreds(auth, credsDir, id)
		if err != nil {
			return fmt.Errorf("credentials of %s: %w", id, err)
		}
		procs = append(procs, &process{name: id, path: filepath.Join(o.binDir, "gpu-runner"),
			env: slices.Concat([]string{"CYBERIMAGE_RUNNER_ID=" + id, "CYBERIMAGE_RUNNER_ADDR=" + runnerAddr(i), "CYBERIMAGE_NATS_CREDS=" + path},
				s3Users[s3access.Runner].Env(), common)})
	}
	// Ingest stops taking requests first, runners then finish (or hand
	// back) their jobs, and the stores they write to go last.
	group := newGroup(procs, [][]string{{"ingest"}, runnerNames, {"supervisor"}, minioNames})
	if err := group.start(); err != nil {
		group.stop()
		return err
	}
	if err := waitSupervisor(ctx, "http://"+o.supervisor, 60*time.Second); err != nil {
		group.stop()
		return fmt.Errorf("supervisor: %w", err)
	}
	if err := waitRunners(ctx, "http://"+o.supervisor+"/status", o.runners, 60*time.Second); err != nil {
		say("devstack", "warning: %v", err)
	}
	banner(o, natsURL, s3Addr, s3Users[s3access.Browser], time.Since(start))
	<-ctx.Done()
	say("devstack", "stopping: ingest, runners (running jobs finish or are handed back), supervisor, minio, nats")
	group.stop()
	return nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func envInt(key string, def int) int {
	v := os.Getenv(key)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		fmt.Fprintf(os.Stderr, "devstack: %s=%q is not an integer\n", key, v)
		os.Exit(2)
	}
	return n
}

var errNotReady = errors.New("not ready")

// runnerAddr is where runner i (from 1) serves /metrics, /livez and
// /readyz: 127.0.0.1:8091, 8092, ... (infra/prometheus scrapes them).
func runnerAddr(i int) string { return fmt.Sprintf("127.0.0.1:%d", 8090+i) }
