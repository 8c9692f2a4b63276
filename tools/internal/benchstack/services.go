package benchstack

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"

	"cyberimage/shared/bus"
	"cyberimage/shared/natsauth"
	"cyberimage/shared/objectstore"
)

// Stores is where the services find NATS, S3, the models and ONNX Runtime.
type Stores struct {
	NATSURL   string
	Replicas  int
	S3        objectstore.Config
	ModelsDir string
	ORTLib    string
	// TLSCA, when set, is the CA that signed the NATS servers' certificate.
	TLSCA string
}

// Env is the CYBERIMAGE_* configuration every service gets. Liveness
// settings (heartbeat, lost threshold, ping interval, AckWait) are left at
// their defaults: those are what the figures are about.
func (s Stores) Env() []string {
	env := []string{
		"CYBERIMAGE_DEV=true", // S3 with the dev keys; NATS with each role's credentials where the server asks
		"CYBERIMAGE_NATS_URL=" + s.NATSURL,
		"CYBERIMAGE_REPLICAS=" + strconv.Itoa(max(s.Replicas, 1)),
		"CYBERIMAGE_S3_ENDPOINT=" + s.S3.Endpoint,
		"CYBERIMAGE_S3_BUCKET=" + s.S3.Bucket,
		"CYBERIMAGE_S3_ACCESS_KEY=" + s.S3.AccessKey,
		"CYBERIMAGE_S3_SECRET_KEY=" + s.S3.SecretKey,
		"CYBERIMAGE_MODELS_DIR=" + s.ModelsDir,
		"CYBERIMAGE_DEFAULT_MODEL=demo",
		"CYBERIMAGE_ORT_LIB=" + s.ORTLib,
		"CYBERIMAGE_LOG_FORMAT=json",
		"CYBERIMAGE_LOG_LEVEL=info",
	}
	if s.TLSCA != "" {
		env = append(env, "CYBERIMAGE_NATS_TLS_CA="+s.TLSCA)
	}
	return env
}

// ModelsDir is the catalog the services serve: the repository's, or with
// only, a folder in dir linking just those of its models (a runner that
// loads only the demo model is ready in about a second).
func ModelsDir(root, dir string, only []string) (string, error) {
	repo := filepath.Join(root, "infra", "models")
	if len(only) == 0 {
		return repo, nil
	}
	models := filepath.Join(dir, "models")
	if err := os.MkdirAll(models, 0o755); err != nil {
		return "", err
	}
	for _, name := range only {
		if _, err := os.Stat(filepath.Join(repo, name, "manifest.json")); err != nil {
			return "", fmt.Errorf("-models: %w", err)
		}
		if err := os.Symlink(filepath.Join(repo, name), filepath.Join(models, name)); err != nil {
			return "", err
		}
	}
	return models, nil
}

// Services starts the pipeline's services as processes, each with the
// credentials of its own identity (never admin's), and waits for each to
// be up.
type Services struct {
	Procs *Procs
	// Bins holds the "ingest", "gpu-runner" and "supervisor" binaries.
	Bins map[string]string
	// Env is what every service gets (Stores.Env).
	Env []string
	// Creds issues each identity's credentials; nil for a server
	// without auth.
	Creds *Creds
}

// env is Env, then the identity's credentials, then extra.
func (s *Services) env(role natsauth.Role, name string, extra []string) ([]string, error) {
	creds, err := s.Creds.Env(role, name)
	if err != nil {
		return nil, err
	}
	env := append(append(append([]string{}, s.Env...), creds...), extra...)
	return env, nil
}

// startHTTP starts a service with its HTTP server at a free address in
// addrKey and waits until /healthz answers.
func (s *Services) startHTTP(ctx context.Context, bin string, role natsauth.Role, addrKey string, extra []string) (*Proc, error) {
	addr, err := LoopbackAddr()
	if err != nil {
		return nil, err
	}
	env, err := s.env(role, natsauth.DefaultName(role), append([]string{addrKey + "=" + addr}, extra...))
	if err != nil {
		return nil, err
	}
	p, err := s.Procs.Start(bin, s.Bins[bin], nil, env)
	if err != nil {
		return nil, err
	}
	return p, WaitHTTP(ctx, p, "http://"+addr+"/healthz", 60*time.Second)
}

// StartSupervisor starts the supervisor as id (CYBERIMAGE_SUPERVISOR_ID)
// with extra settings and waits until its /healthz answers.
func (s *Services) StartSupervisor(ctx context.Context, id string, extra ...string) (*Proc, error) {
	return s.startHTTP(ctx, "supervisor", natsauth.Supervisor, "CYBERIMAGE_SUPERVISOR_ADDR",
		append([]string{"CYBERIMAGE_SUPERVISOR_ID=" + id}, extra...))
}

// StartIngest starts ingest with extra settings and waits until its
// /healthz answers.
func (s *Services) StartIngest(ctx context.Context, extra ...string) (*Proc, error) {
	return s.startHTTP(ctx, "ingest", natsauth.Ingest, "CYBERIMAGE_INGEST_ADDR", extra)
}

// StartRunner starts (or starts again) runner id with credentials issued
// in its name and extra settings, and waits for its first heartbeat, heard
// on nc, which it sends once connected to NATS and S3 and pulling work.
func (s *Services) StartRunner(ctx context.Context, nc *nats.Conn, id string, extra ...string) (*Proc, error) {
	sub, err := nc.SubscribeSync(bus.HeartbeatSubject(id))
	if err != nil {
		return nil, err
	}
	defer sub.Unsubscribe()
	env, err := s.env(natsauth.Runner, id, append([]string{"CYBERIMAGE_RUNNER_ID=" + id}, extra...))
	if err != nil {
		return nil, err
	}
	p, err := s.Procs.Start(id, s.Bins["gpu-runner"], nil, env)
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if _, err := sub.NextMsgWithContext(wctx); err != nil {
		return p, fmt.Errorf("%s sent no heartbeat within 60s (see %s): %w", id, s.Procs.LogPath(id), err)
	}
	return p, nil
}
