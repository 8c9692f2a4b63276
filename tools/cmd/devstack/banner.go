package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"cyberimage/shared/bus"
	"cyberimage/shared/natsauth"
	"cyberimage/shared/objectstore"
	"cyberimage/shared/statusapi"
	"cyberimage/tools/internal/httpwait"
	"cyberimage/tools/internal/s3access"
)

// The dev MinIO's root key: only MinIO and provisioning use it (the
// services and the banner get least-privileged users); never for production.
const (
	devRootUser     = "cyberimage"
	devRootPassword = "cyberimage-dev-secret"
)

// waitHTTP waits for url to answer 200 OK, asking every 200 ms.
func waitHTTP(ctx context.Context, url string, limit time.Duration) error {
	err := httpwait.Until(ctx, http.DefaultClient, url, limit, 200*time.Millisecond, nil)
	if errors.Is(err, httpwait.ErrTimeout) {
		return fmt.Errorf("%s: %w after %s", url, errNotReady, limit)
	}
	return err
}

// waitRunners waits until the supervisor lists n healthy runners, so "ready"
// means a request published now is worked on at once.
func waitRunners(ctx context.Context, statusURL string, n int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if healthyRunners(statusURL) >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("fewer than %d runners reported within %s", n, limit)
}

func healthyRunners(statusURL string) int {
	resp, err := http.Get(statusURL)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var st statusapi.Status
	if json.NewDecoder(resp.Body).Decode(&st) != nil {
		return 0
	}
	n := 0
	for _, r := range st.Runners {
		if r.Health == "healthy" {
			n++
		}
	}
	return n
}

func banner(o options, natsURL, s3Addr string, browser s3access.User, took time.Duration) {
	// The client's credentials and its own inbox prefix: replies come only
	// there, and nobody else can read them.
	// The first node serves browsing and the mc alias; any would do.
	s3Host := objectstore.Config{Endpoint: s3Addr}.Host()
	client := o.dataDir + "/creds/client.creds --inbox-prefix " + bus.InboxPrefix(string(natsauth.Client), natsauth.DefaultName(natsauth.Client))
	fmt.Printf(`
================ CyberImage stack ready in %.1fs ================
  NATS        %s   (JetStream data: %s; credentials per role in %s/creds)
  MinIO S3    http://%s   bucket "cyberimage"   user %s / password %s   (read-only; keys per role in %s/creds/s3-*.env)%s
  MinIO UI    http://127.0.0.1:%d
  Console     http://%s/   (admin actions ask for the token in %s/creds/admin-token)
  Supervisor  http://%s/status   /api/queue   /v1/jobs/<job_id>   /metrics
  Ingest      http://127.0.0.1:8081/metrics
  Runners     %d   (metrics at http://%s/metrics, the next ones on the following ports)

Try it (in another terminal, from this folder):
  .tools/bin/nats --server %s --creds %s req cyberimage.requests '{"prompt":"a neon koi pond at dusk","width":512,"height":512}'
  curl -s http://%s/v1/jobs/<job_id from the reply>
  .tools/bin/mc alias set local http://%s %s %s && .tools/bin/mc ls --recursive local/cyberimage/images/
  .tools/bin/nats --server %s --creds %s sub 'cyberimage.events.>'     # live progress
  bin/cyberimage status; bin/cyberimage cancel <job_id>      # retry and cancel use %s/creds/admin-token
Ctrl-C stops everything; jobs and images are kept in %s.
=================================================================
`, took.Seconds(), natsURL, natsDataDir(o), o.dataDir, s3Host, browser.AccessKey, browser.SecretKey, o.dataDir, minioNodesLine(o, s3Addr), o.consolePort, o.supervisor, o.dataDir, o.supervisor, o.runners, runnerAddr(1),
		natsURL, client, o.supervisor, s3Host, browser.AccessKey, browser.SecretKey, natsURL, client, o.dataDir, o.dataDir)
}

// minioNodesLine lists a distributed MinIO's nodes under the S3 line; the
// services get them all and go on through the loss of any one.
func minioNodesLine(o options, s3Endpoint string) string {
	nodes := objectstore.Config{Endpoint: s3Endpoint}.Endpoints()
	if len(nodes) < 2 {
		return ""
	}
	return fmt.Sprintf("\n  MinIO nodes %s   (distributed, EC:2: any one may be down; services get them all; drives in %s/minio-cluster)",
		strings.Join(nodes, " "), o.dataDir)
}

// natsDataDir is where the dev stack's NATS keeps its JetStream data: one
// folder for the embedded server, another for the cluster's nodes, so
// switching modes never mixes stores.
func natsDataDir(o options) string {
	if o.natsNodes > 1 {
		return o.dataDir + "/nats-cluster"
	}
	return o.dataDir + "/nats"
}
