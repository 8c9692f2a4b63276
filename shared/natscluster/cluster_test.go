package natscluster_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"cyberimage/shared/bus"
	"cyberimage/shared/jobstore"
	"cyberimage/shared/natscluster"
	"cyberimage/shared/testenv"
)

// Three real nats-server processes from the generated configs form one
// cluster: the pipeline's layout provisions at R3, and an acknowledged
// write survives kill -9 of the leader and a node coming back wiped.
func TestClusterKeepsWritesThroughLeaderLossAndWipe(t *testing.T) {
	c := testenv.StartCluster(t, 3)
	_, js := c.NATS().Connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	settings := bus.DefaultSettings()
	settings.Replicas = 3
	// Provision, not Ensure: as a deployment's provision step, it waits
	// out what a forming cluster ends by itself (a request unanswered
	// while routes form, placement refused before every peer is known).
	if err := bus.Provision(ctx, js, settings, "demo"); err != nil {
		t.Fatalf("provision R3: %v", err)
	}
	store, err := jobstore.Open(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	put := func(key string) {
		t.Helper()
		// Retried as a client would while a new leader is elected.
		retry := time.NewTicker(100 * time.Millisecond)
		defer retry.Stop()
		for {
			attempt, cancelAttempt := context.WithTimeout(ctx, 2*time.Second)
			_, err := store.KV().Put(attempt, key, []byte("v"))
			cancelAttempt()
			if err == nil {
				return
			}
			select {
			case <-ctx.Done():
				t.Fatalf("put %s: %v", key, err)
			case <-retry.C:
			}
		}
	}
	put("before")
	leader, err := c.Leader(ctx, js, "KV_"+bus.BucketJobs)
	if err != nil {
		t.Fatal(err)
	}
	c.Kill(leader)
	put("after-kill")
	c.Wipe(leader)
	c.Start(leader)
	// Kill the other two in turn: each time the wiped node must hold its
	// share, so both writes must have been copied to it.
	for i := range c.Nodes {
		if i == leader {
			continue
		}
		c.Kill(i)
		for _, key := range []string{"before", "after-kill"} {
			deadline := time.Now().Add(30 * time.Second)
			retry := time.NewTicker(200 * time.Millisecond)
			for {
				// Per attempt, as services bound each call: a request in
				// flight to the node just killed never gets an answer.
				attempt, cancelAttempt := context.WithTimeout(ctx, 2*time.Second)
				e, err := store.KV().Get(attempt, key)
				cancelAttempt()
				if err == nil && string(e.Value()) == "v" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s lost with %s down: %v", key, c.Nodes[i].Name, err)
				}
				<-retry.C
			}
			retry.Stop()
		}
		c.Start(i)
	}
}

// A cold cluster whose third node starts after provisioning began, as a
// deployment's nodes come up in any order: Provision at R3 says it waits,
// and succeeds once the node has joined, with every stream and bucket
// placed on all three nodes.
func TestProvisionWaitsForALateNode(t *testing.T) {
	c := testenv.StartClusterPartly(t, 3, 2)
	_, js := c.NATS().Connect(t)
	settings := bus.DefaultSettings()
	settings.Replicas = 3
	retries := make(chan bus.ProvisionRetry, 1000)
	done := make(chan error, 1)
	go func() {
		done <- bus.ProvisionWith(context.Background(), js, bus.ProvisionParams{Settings: settings, Models: []string{"demo"},
			Progress: func(r bus.ProvisionRetry) { retries <- r }})
	}()
	select {
	case r := <-retries:
		t.Logf("provision: %s", r)
		if !errors.Is(r.Err, bus.ErrNotReady) {
			t.Fatalf("retried an error it should not: %v", r.Err)
		}
	case err := <-done:
		t.Fatalf("provision at R3 with two of three nodes ended: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("provision neither waited nor ended within a minute")
	}
	c.Start(2)
	t.Logf("%s started", c.Nodes[2].Name)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("provision after the late node joined: %v", err)
		}
	case <-time.After(bus.DefaultProvisionTimeout):
		t.Fatal("provision did not end")
	}
	close(retries)
	for r := range retries {
		t.Logf("provision: %s", r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, name := range []string{bus.StreamRequests, bus.StreamJobs, bus.StreamDLQ, bus.StreamAdvisories,
		"KV_" + bus.BucketJobs, "KV_" + bus.BucketRunners, "KV_" + bus.BucketSupervisor, "KV_" + bus.BucketLeases} {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatalf("stream %s: %v", name, err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatalf("stream %s: %v", name, err)
		}
		if info.Cluster == nil || info.Cluster.Leader == "" || len(info.Cluster.Replicas) != 2 {
			t.Errorf("stream %s not on three nodes: %+v", name, info.Cluster)
		}
	}
}

func TestConfigNamesPeersAndSync(t *testing.T) {
	nodes := []natscluster.Node{
		{Name: "a", Host: "10.0.0.1", Port: 4222, ClusterPort: 6222, MonitorPort: 8222, StoreDir: "/var/lib/nats"},
		{Name: "b", Host: "10.0.0.2", Port: 4222, ClusterPort: 6222, MonitorPort: 8222, StoreDir: "/var/lib/nats"},
	}
	conf := natscluster.Config(nodes[0], nodes, natscluster.SyncAlways, "include auth.conf")
	for _, want := range []string{"server_name: a", "nats-route://10.0.0.2:6222", `sync_interval: "always"`, "include auth.conf", "name: cyberimage"} {
		if !strings.Contains(conf, want) {
			t.Errorf("config lacks %q:\n%s", want, conf)
		}
	}
	if strings.Contains(conf, "nats-route://10.0.0.1:6222") {
		t.Errorf("a node routes to itself:\n%s", conf)
	}
	if natscluster.ClientURLs(nodes) != "nats://10.0.0.1:4222,nats://10.0.0.2:4222" {
		t.Errorf("client URLs: %s", natscluster.ClientURLs(nodes))
	}
	for _, bad := range []string{"sometimes", "-1s", "0s"} {
		if _, err := natscluster.ParseSync(bad); err == nil {
			t.Errorf("ParseSync(%q) accepted", bad)
		}
	}
}

// TestCommittedDeploymentFilesAreCurrent: infra/nats/cluster holds what
// DeploymentFiles writes (CYBERIMAGE_UPDATE_INFRA=1 go test
// ./shared/natscluster rewrites them).
func TestCommittedDeploymentFilesAreCurrent(t *testing.T) {
	dir := filepath.Join(testenv.RepoRoot(t), "infra", "nats", "cluster")
	for name, want := range natscluster.DeploymentFiles() {
		path := filepath.Join(dir, name)
		if os.Getenv("CYBERIMAGE_UPDATE_INFRA") == "1" {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s is missing or stale (%v): rewrite with CYBERIMAGE_UPDATE_INFRA=1 go test ./shared/natscluster", path, err)
		}
	}
}

// The nats-server the cluster tests and make run-cluster run is the one the
// in-process tests embed: the Makefile pins the version in shared/go.mod,
// and the binary says so.
func TestServerBinaryMatchesTheEmbeddedVersion(t *testing.T) {
	root := testenv.RepoRoot(t)
	gomod, err := os.ReadFile(filepath.Join(root, "shared", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	embedded := regexp.MustCompile(`github.com/nats-io/nats-server/v2 (v\S+)`).FindSubmatch(gomod)
	if embedded == nil {
		t.Fatal("shared/go.mod names no nats-server")
	}
	makefile, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	pinned := regexp.MustCompile(`(?m)^NATS_SERVER_VERSION := (\S+)`).FindSubmatch(makefile)
	if pinned == nil || string(pinned[1]) != string(embedded[1]) {
		t.Fatalf("Makefile pins nats-server %s, shared/go.mod embeds %s", pinned, embedded[1])
	}
	out, err := exec.Command(testenv.Tool(t, "CYBERIMAGE_NATS_SERVER_BIN", ".tools/bin/nats-server"), "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("nats-server --version: %v: %s", err, out)
	}
	if !strings.Contains(string(out), string(embedded[1])) {
		t.Fatalf("nats-server --version says %q, want %s (rebuild: rm .tools/bin/nats-server && make test-tools)", out, embedded[1])
	}
}
