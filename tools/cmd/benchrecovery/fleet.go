package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"cyberimage/shared/bus"
	"cyberimage/shared/natsauth"
	"cyberimage/shared/objectstore"
)

// fleet is the services as processes: one supervisor, one ingest and the
// runners, each runner with credentials issued in its own name, as a
// deployment gives them. Runners come and go (killed, started again under
// the same name); the rest stay up for the whole run.
type fleet struct {
	ps   *procs
	c    *cluster
	nc   *nats.Conn // admin: heartbeats
	bins map[string]string
	env  []string // what every service gets

	mu      sync.Mutex
	runners map[string]*proc
	names   []string
}

// startMinIO runs a MinIO server on free ports with its data in dir (the
// flags and environment of shared/testenv) and waits until it is ready.
func startMinIO(ctx context.Context, ps *procs, bin, dir string) (objectstore.Config, error) {
	var ports [2]int
	for i := range ports {
		var err error
		if ports[i], err = freePort(); err != nil {
			return objectstore.Config{}, err
		}
	}
	cfg := objectstore.Config{Endpoint: "127.0.0.1:" + strconv.Itoa(ports[0]), AccessKey: objectstore.DevAccessKey,
		SecretKey: objectstore.DevSecretKey, Bucket: "cyberimage"}
	p, err := ps.start("minio", bin, []string{"server", "--quiet", "--address", cfg.Endpoint,
		"--console-address", "127.0.0.1:" + strconv.Itoa(ports[1]), filepath.Join(dir, "minio")},
		[]string{"MINIO_ROOT_USER=" + cfg.AccessKey, "MINIO_ROOT_PASSWORD=" + cfg.SecretKey, "MINIO_BROWSER=off", "MINIO_UPDATE=off"})
	if err != nil {
		return cfg, err
	}
	return cfg, waitHTTP(ctx, p, "http://"+cfg.Endpoint+"/minio/health/ready", 60*time.Second)
}

// demoOnly is a models folder holding just the demo model: runners load
// nothing else, so a runner started again is ready in about a second.
func demoOnly(root, dir string) (string, error) {
	models := filepath.Join(dir, "models")
	if err := os.MkdirAll(models, 0o755); err != nil {
		return "", err
	}
	return models, os.Symlink(filepath.Join(root, "infra", "models", "demo"), filepath.Join(models, "demo"))
}

// serviceEnv is the configuration every service gets. Liveness settings
// (heartbeat, lost threshold, ping interval, AckWait) are left at their
// defaults: those are what the figures are about.
func serviceEnv(c *cluster, s3 objectstore.Config, modelsDir, ortLib string) []string {
	return []string{
		"CYBERIMAGE_DEV=true", // S3 with the dev keys; NATS still with each role's credentials
		"CYBERIMAGE_NATS_URL=" + c.url(),
		"CYBERIMAGE_REPLICAS=" + strconv.Itoa(len(c.nodes)),
		"CYBERIMAGE_S3_ENDPOINT=" + s3.Endpoint,
		"CYBERIMAGE_S3_BUCKET=" + s3.Bucket,
		"CYBERIMAGE_S3_ACCESS_KEY=" + s3.AccessKey,
		"CYBERIMAGE_S3_SECRET_KEY=" + s3.SecretKey,
		"CYBERIMAGE_MODELS_DIR=" + modelsDir,
		"CYBERIMAGE_DEFAULT_MODEL=demo",
		"CYBERIMAGE_ORT_LIB=" + ortLib,
		"CYBERIMAGE_LOG_FORMAT=json",
		"CYBERIMAGE_LOG_LEVEL=info",
	}
}

// start runs the supervisor and ingest, each waited for until /healthz
// answers, then the runners.
func (f *fleet) start(ctx context.Context, runners int) error {
	supAddr, err := loopbackAddr()
	if err != nil {
		return err
	}
	sup, err := f.ps.start("supervisor", f.bins["supervisor"], nil, append(f.roleEnv(natsauth.Supervisor, natsauth.DefaultName(natsauth.Supervisor)),
		"CYBERIMAGE_SUPERVISOR_ADDR="+supAddr, "CYBERIMAGE_SUPERVISOR_ID=recovery-supervisor"))
	if err != nil {
		return err
	}
	if err := waitHTTP(ctx, sup, "http://"+supAddr+"/healthz", 60*time.Second); err != nil {
		return err
	}
	ingAddr, err := loopbackAddr()
	if err != nil {
		return err
	}
	ing, err := f.ps.start("ingest", f.bins["ingest"], nil, append(f.roleEnv(natsauth.Ingest, natsauth.DefaultName(natsauth.Ingest)),
		"CYBERIMAGE_INGEST_ADDR="+ingAddr))
	if err != nil {
		return err
	}
	if err := waitHTTP(ctx, ing, "http://"+ingAddr+"/healthz", 60*time.Second); err != nil {
		return err
	}
	f.runners = map[string]*proc{}
	for i := 1; i <= runners; i++ {
		id := fmt.Sprintf("runner-%d", i)
		f.names = append(f.names, id)
		if err := f.startRunner(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// roleEnv is the service's environment with the credentials of one named
// identity of its role, issued into the cluster's creds folder.
func (f *fleet) roleEnv(role natsauth.Role, name string) []string {
	path := natsauth.IdentityCredsPath(f.c.credsDir, role, name)
	if _, err := os.Stat(path); err != nil {
		if path, err = f.c.auth.SaveCreds(f.c.credsDir, role, name, natsauth.DefaultExpiry); err != nil {
			panic(fmt.Sprintf("benchrecovery: credentials of %s %s: %v", role, name, err))
		}
	}
	return append(append([]string{}, f.env...), "CYBERIMAGE_NATS_CREDS="+path)
}

// startRunner starts runner id (again) and waits for its first heartbeat,
// which it sends once connected to NATS and S3 and pulling work.
func (f *fleet) startRunner(ctx context.Context, id string) error {
	sub, err := f.nc.SubscribeSync(bus.HeartbeatSubject(id))
	if err != nil {
		return err
	}
	defer sub.Unsubscribe()
	p, err := f.ps.start(id, f.bins["gpu-runner"], nil, append(f.roleEnv(natsauth.Runner, id),
		"CYBERIMAGE_RUNNER_ID="+id, "CYBERIMAGE_SLOTS=1", "CYBERIMAGE_INTRA_OP_THREADS=1"))
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.runners[id] = p
	f.mu.Unlock()
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if _, err := sub.NextMsgWithContext(wctx); err != nil {
		return fmt.Errorf("%s sent no heartbeat within 60s (see its log): %w", id, err)
	}
	return nil
}

func (f *fleet) runner(id string) *proc {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.runners[id]
}

func loopbackAddr() (string, error) {
	port, err := freePort()
	if err != nil {
		return "", err
	}
	return "127.0.0.1:" + strconv.Itoa(port), nil
}
