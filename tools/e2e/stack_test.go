package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"cyberimage/shared/bus"
	"cyberimage/shared/config"
	"cyberimage/shared/job"
	"cyberimage/shared/jobstore"
	"cyberimage/shared/models"
	"cyberimage/shared/natsauth"
	"cyberimage/shared/testenv"
	"cyberimage/tools/internal/s3access"
)

// testAdminToken is the supervisor's admin token in every test stack.
const testAdminToken = "e2e-admin-token"

// stack is one test's pipeline: servers in-process or started by the test,
// services as child processes.
type stack struct {
	t     testing.TB
	nats  *testenv.NATS
	minio *testenv.MinIO
	nc    *nats.Conn
	// client submits requests as a client identity would: ingest answers
	// only clients' inboxes.
	client *nats.Conn
	js     jetstream.JetStream
	store  *jobstore.Store
	s3     *minio.Client // root: tests look at everything
	// s3users are the services' S3 users (runner, supervisor).
	s3users map[s3access.Role]s3access.User
	env     []string
	logs    string

	supervisorAddr string
	ingestAddr     string // of the last ingest started
	completions    *completionWatch
}

func newStack(t testing.TB, extraEnv ...string) *stack {
	t.Helper()
	// Every stack runs with credentials and permissions on: each service
	// connects with its role's credentials, the test itself as admin.
	return newStackOn(t, testenv.StartNATSWithAuth(t), extraEnv...)
}

// newStackOn is newStack on a given NATS server (with TLS, say).
func newStackOn(t testing.TB, n *testenv.NATS, extraEnv ...string) *stack {
	t.Helper()
	return newStackWith(t, n, testenv.StartMinIO(t), extraEnv...)
}

// newStackWith is newStackOn on a given MinIO (a distributed one, say).
func newStackWith(t testing.TB, n *testenv.NATS, m *testenv.MinIO, extraEnv ...string) *stack {
	t.Helper()
	s := &stack{t: t, nats: n, minio: m, logs: t.TempDir()}
	s.nc, s.js = s.nats.Connect(t)
	s.client, _ = s.nats.ConnectAs(t, natsauth.Client)
	s.s3 = s.minio.Client(t)
	s.supervisorAddr = freeAddr(t)
	s.env = append([]string{
		"CYBERIMAGE_NATS_URL=" + s.nats.URL(),
		"CYBERIMAGE_S3_ENDPOINT=" + s.minio.Config.Endpoint,
		"CYBERIMAGE_S3_BUCKET=" + s.minio.Config.Bucket,
		"CYBERIMAGE_MODELS_DIR=" + repoPath(t, "infra", "models"),
		"CYBERIMAGE_ORT_LIB=" + testenv.ORTLibrary(t),
		"CYBERIMAGE_SUPERVISOR_ADDR=" + s.supervisorAddr,
		"CYBERIMAGE_HEARTBEAT_INTERVAL=500ms",
		"CYBERIMAGE_ADMIN_TOKEN=" + testAdminToken,
		"CYBERIMAGE_LOG_LEVEL=debug",
	}, extraEnv...)
	if n.CAFile != "" {
		s.env = append(s.env, "CYBERIMAGE_NATS_TLS_CA="+n.CAFile)
	}
	// The test provisions, as make run and deployments do, with the settings
	// the services read from this environment (AckWait, MaxDeliver, ...)
	// and a consumer for every model in its models folder; the services
	// only check them.
	ctx := context.Background()
	require.NoError(t, bus.Provision(ctx, s.js, settingsFrom(t, s.env), modelsIn(t, s.env)...))
	// MinIO too: each service gets its role's least-privileged user, as
	// make run and deployments give them; none holds the root key.
	var err error
	s.s3users, err = s3access.LoadOrCreate(t.TempDir())
	require.NoError(t, err)
	require.NoError(t, s3access.Provision(ctx, s.minio.Config, s.s3users))
	s.store, err = jobstore.Open(ctx, s.js)
	require.NoError(t, err)
	// The watch reads as the supervisor does, not as admin: tests that
	// write records keep s.store.
	_, watchJS := s.nats.ConnectAs(t, natsauth.Supervisor)
	watchStore, err := jobstore.Open(ctx, watchJS)
	require.NoError(t, err)
	s.completions = watchCompletions(t, watchStore)
	t.Cleanup(func() {
		if t.Failed() {
			s.dumpLogs()
		}
	})
	return s
}

// settingsFrom parses the bus settings out of an environment list with the
// services' own config loader.
func settingsFrom(t testing.TB, env []string) bus.Settings {
	t.Helper()
	vals := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vals[k] = v
	}
	l := config.NewLoaderWithEnv("e2e", io.Discard, func(k string) (string, bool) { v, ok := vals[k]; return v, ok })
	var settings bus.Settings
	settings.Bind(l)
	require.NoError(t, l.Parse(nil))
	return settings
}

// modelsIn names the models of the folder CYBERIMAGE_MODELS_DIR in env
// names (the last one set wins, as for the services).
func modelsIn(t testing.TB, env []string) []string {
	t.Helper()
	dir := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "CYBERIMAGE_MODELS_DIR="); ok {
			dir = v
		}
	}
	catalog, err := models.Load(dir, "")
	require.NoError(t, err)
	return catalog.Names()
}

// proc is a service process started by a test.
type proc struct {
	name   string
	cmd    *exec.Cmd
	exited chan struct{}
}

// start runs a service binary; it is killed at test end if still running.
func (s *stack) start(name, binary string, env ...string) *proc {
	s.t.Helper()
	logFile, err := os.Create(filepath.Join(s.logs, name+".log"))
	require.NoError(s.t, err)
	cmd := exec.Command(bins[binary])
	cmd.Dir = testenv.RepoRoot(s.t)
	cmd.Env = slices.Concat(s.roleEnv(binary, runnerName(name, env)), os.Environ(), s.env, env)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	require.NoError(s.t, cmd.Start())
	p := &proc{name: name, cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); logFile.Close(); close(p.exited) }()
	s.t.Cleanup(func() {
		_ = syscall.Kill(cmd.Process.Pid, syscall.SIGCONT)
		p.kill()
	})
	return p
}

func (s *stack) startSupervisor(env ...string) *proc {
	return s.startSupervisorAt("supervisor", s.supervisorAddr, env...)
}

// serviceRoles is the NATS role each service binary connects as.
var serviceRoles = map[string]natsauth.Role{"ingest": natsauth.Ingest, "gpu-runner": natsauth.Runner, "supervisor": natsauth.Supervisor}

// serviceS3Users is the S3 user each service binary uses; ingest never
// touches S3.
var serviceS3Users = map[string]s3access.Role{"gpu-runner": s3access.Runner, "supervisor": s3access.Supervisor}

// roleEnv is what a service binary gets as its role: the NATS credentials
// (a runner's name its own: runner) and the S3 user (settings given later
// in the environment win).
func (s *stack) roleEnv(binary, runner string) []string {
	var env []string
	if role, ok := serviceRoles[binary]; ok && s.nats.Auth != nil {
		name := natsauth.DefaultName(role)
		if role == natsauth.Runner {
			name = runner
		}
		env = append(env, "CYBERIMAGE_NATS_CREDS="+s.nats.Creds(s.t, role, name))
	}
	if role, ok := serviceS3Users[binary]; ok {
		env = append(env, s.s3users[role].Env()...)
	}
	return env
}

// runnerName is the name a runner process runs under: the
// CYBERIMAGE_RUNNER_ID it is given, else its process name.
func runnerName(proc string, env []string) string {
	for _, e := range env {
		if id, ok := strings.CutPrefix(e, "CYBERIMAGE_RUNNER_ID="); ok {
			return id
		}
	}
	return proc
}

// creds is the credentials file of a role on this stack's NATS server.
func (s *stack) creds(role natsauth.Role) string { return natsauth.CredsPath(s.nats.CredsDir, role) }

// startSupervisorAt starts a supervisor replica under its own name and
// address and waits until it serves.
func (s *stack) startSupervisorAt(name, addr string, env ...string) *proc {
	s.t.Helper()
	p := s.start(name, "supervisor", append([]string{"CYBERIMAGE_SUPERVISOR_ADDR=" + addr, "CYBERIMAGE_SUPERVISOR_ID=" + name}, env...)...)
	waitURL(s.t, "http://"+addr+"/healthz")
	return p
}

// freeAddr is a loopback address on a free port, for a service to listen
// on: two services of one stack (or two supervisor replicas) never share
// one.
func freeAddr(t testing.TB) string {
	return "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
}

// startIngest starts ingest and waits for its health endpoint, which it
// serves only once it listens for request-reply inboxes.
func (s *stack) startIngest() *proc {
	s.t.Helper()
	addr := freeAddr(s.t)
	p := s.start("ingest", "ingest", "CYBERIMAGE_INGEST_ADDR="+addr)
	waitURL(s.t, "http://"+addr+"/healthz")
	s.ingestAddr = addr
	return p
}

// startRunner starts a runner and waits for its first heartbeat, which it
// sends once it is connected to NATS and S3 and pulling work.
func (s *stack) startRunner(id string, env ...string) *proc {
	s.t.Helper()
	sub, err := s.nc.SubscribeSync(bus.HeartbeatSubject(id))
	require.NoError(s.t, err)
	defer sub.Unsubscribe()
	p := s.start(id, "gpu-runner", append([]string{"CYBERIMAGE_RUNNER_ID=" + id}, env...)...)
	_, err = sub.NextMsg(30 * time.Second)
	require.NoError(s.t, err, "runner %s sent no heartbeat", id)
	return p
}

func (p *proc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// stop sends SIGTERM and waits for a clean exit.
func (p *proc) stop(t testing.TB) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(40 * time.Second):
		t.Fatalf("%s did not stop on SIGTERM", p.name)
	}
}

// serviceLog is what the named service process has logged so far.
func (s *stack) serviceLog(name string) string {
	s.t.Helper()
	data, err := os.ReadFile(filepath.Join(s.logs, name+".log"))
	require.NoError(s.t, err)
	return string(data)
}

func (s *stack) dumpLogs() {
	entries, _ := os.ReadDir(s.logs)
	for _, e := range entries {
		f, err := os.Open(filepath.Join(s.logs, e.Name()))
		if err != nil {
			continue
		}
		var lines []string
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<16), 1<<20)
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		f.Close()
		if len(lines) > 40 {
			lines = lines[len(lines)-40:]
		}
		s.t.Logf("---- last lines of %s ----", e.Name())
		for _, l := range lines {
			s.t.Log(l)
		}
	}
}

func (s *stack) url(path string) string { return "http://" + s.supervisorAddr + path }

func waitURL(t testing.TB, url string) {
	t.Helper()
	require.Eventually(t, func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 30*time.Second, 50*time.Millisecond, "waiting for %s", url)
}

// getJSON fetches a supervisor endpoint into v and returns the status code.
func (s *stack) getJSON(path string, v any) int {
	s.t.Helper()
	resp, err := http.Get(s.url(path))
	require.NoError(s.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(s.t, err)
	if v != nil && resp.StatusCode == http.StatusOK {
		require.NoError(s.t, json.Unmarshal(body, v), string(body))
	}
	return resp.StatusCode
}

// record reads one job record.
func (s *stack) record(id string) job.Record {
	s.t.Helper()
	rec, _, err := s.store.Get(context.Background(), id)
	require.NoError(s.t, err, "record %s", id)
	return rec
}

// records lists every job record.
func (s *stack) records() map[string]job.Record {
	s.t.Helper()
	ctx := context.Background()
	out := map[string]job.Record{}
	keys, err := s.store.KV().ListKeys(ctx)
	require.NoError(s.t, err)
	for k := range keys.Keys() {
		rec, _, err := s.store.Get(ctx, k)
		require.NoError(s.t, err)
		out[k] = rec
	}
	return out
}

// waitEnded waits until n records exist and every one is terminal.
func (s *stack) waitEnded(n int, limit time.Duration) map[string]job.Record {
	s.t.Helper()
	deadline := time.Now().Add(limit)
	poll := time.NewTicker(100 * time.Millisecond)
	defer poll.Stop()
	var recs map[string]job.Record
	for time.Now().Before(deadline) {
		recs = s.records()
		ended := 0
		for _, r := range recs {
			if r.Status.Terminal() {
				ended++
			}
		}
		if len(recs) >= n && ended == len(recs) {
			return recs
		}
		<-poll.C
	}
	counts := map[job.Status]int{}
	for _, r := range recs {
		counts[r.Status]++
	}
	s.t.Fatalf("after %s: %d records (want %d), by status %v", limit, len(recs), n, counts)
	return nil
}

func (s *stack) jobsInStream() uint64 {
	s.t.Helper()
	return s.inStream(bus.StreamJobs)
}

// inStream counts the messages a stream holds.
func (s *stack) inStream(stream string) uint64 {
	s.t.Helper()
	st, err := s.js.Stream(context.Background(), stream)
	require.NoError(s.t, err)
	info, err := st.Info(context.Background())
	require.NoError(s.t, err)
	return info.State.Msgs
}
