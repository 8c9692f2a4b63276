package e2e

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/bus"
	"cyberimage/shared/testenv"
)

// TestConfigHelpAndErrors: --help lists every setting with its variable and
// exits 0; an invalid setting exits 2 with a message naming it.
func TestConfigHelpAndErrors(t *testing.T) {
	for name, bad := range map[string]string{
		"ingest":     "CYBERIMAGE_INGEST_CONCURRENCY=0",
		"gpu-runner": "CYBERIMAGE_SLOTS=many",
		"supervisor": "CYBERIMAGE_ACK_WAIT=soon",
	} {
		out, err := exec.Command(bins[name], "--help").CombinedOutput()
		require.NoError(t, err, "%s --help", name)
		require.Contains(t, string(out), "CYBERIMAGE_NATS_URL", name)
		require.Contains(t, string(out), "CYBERIMAGE_MAX_DELIVER", name)

		cmd := exec.Command(bins[name])
		cmd.Env = append(os.Environ(), bad)
		out, err = cmd.CombinedOutput()
		var exit *exec.ExitError
		require.True(t, errors.As(err, &exit), "%s with %s: %v", name, bad, err)
		require.Equal(t, 2, exit.ExitCode(), "%s with %s", name, bad)
		require.Contains(t, string(out), "invalid configuration", name)
	}
}

// TestSecretsStaySecret: --help never prints a secret's value, even one set
// in the environment; the log names no secret and no password of the NATS
// URL; outside the dev stack a service without S3 credentials exits 2
// naming the variable.
func TestSecretsStaySecret(t *testing.T) {
	const s3Secret, natsPassword = "s3-very-secret-value", "nats-very-secret-pw"
	secretEnv := []string{"CYBERIMAGE_S3_ACCESS_KEY=key-id-value", "CYBERIMAGE_S3_SECRET_KEY=" + s3Secret,
		"CYBERIMAGE_NATS_URL=nats://svc:" + natsPassword + "@127.0.0.1:1"}
	for _, name := range []string{"ingest", "gpu-runner", "supervisor"} {
		cmd := exec.Command(bins[name], "--help")
		cmd.Env = append(os.Environ(), secretEnv...)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err)
		require.NotContains(t, string(out), s3Secret, "%s --help", name)
		require.NotContains(t, string(out), "key-id-value", "%s --help", name)
		require.NotContains(t, string(out), natsPassword, "%s --help", name)
		require.Contains(t, string(out), "never printed", "%s --help marks secrets", name)
	}
	for _, name := range []string{"gpu-runner", "supervisor"} {
		cmd := exec.Command(bins[name])
		cmd.Env = append(os.Environ(), "CYBERIMAGE_DEV=", "CYBERIMAGE_S3_ACCESS_KEY=", "CYBERIMAGE_S3_SECRET_KEY=")
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		require.True(t, errors.As(err, &exit), "%s without credentials: %v", name, err)
		require.Equal(t, 2, exit.ExitCode(), "%s without credentials", name)
		require.Contains(t, string(out), "CYBERIMAGE_S3_ACCESS_KEY is required", name)
		require.Contains(t, string(out), "CYBERIMAGE_S3_SECRET_KEY is required", name)
	}
	for _, name := range []string{"ingest", "gpu-runner", "supervisor"} {
		cmd := exec.Command(bins[name])
		cmd.Env = append(os.Environ(), "CYBERIMAGE_DEV=", "CYBERIMAGE_NATS_CREDS=")
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		require.True(t, errors.As(err, &exit), "%s without NATS credentials: %v", name, err)
		require.Equal(t, 2, exit.ExitCode(), "%s without NATS credentials", name)
		require.Contains(t, string(out), "CYBERIMAGE_NATS_CREDS is required", name)
	}

	// A supervisor that cannot reach NATS logs where it tries, without the
	// password, and never logs the S3 secret.
	cmd := exec.Command(bins["supervisor"])
	cmd.Env = append(os.Environ(), secretEnv...)
	cmd.Env = append(cmd.Env, "CYBERIMAGE_SUPERVISOR_ADDR=127.0.0.1:0", "CYBERIMAGE_LOG_LEVEL=debug", "CYBERIMAGE_DEV=true")
	out := startAndCollect(t, cmd, 3*time.Second)
	require.NotContains(t, out, s3Secret)
	require.NotContains(t, out, natsPassword)
}

// startAndCollect runs cmd for a while, then stops it and returns what it
// printed.
func startAndCollect(t *testing.T, cmd *exec.Cmd, d time.Duration) string {
	t.Helper()
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	require.NoError(t, cmd.Start())
	// The scenario, not a wait for a result: a service that cannot reach
	// NATS keeps trying and never ends, so what it logs is read over a
	// fixed window.
	time.Sleep(d)
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	return buf.String()
}

// TestServicesNeverRewriteProvisionedSettings: a service started with
// other settings than the system was provisioned with refuses to start
// (exit 2, naming the setting) and leaves the streams as they were.
func TestServicesNeverRewriteProvisionedSettings(t *testing.T) {
	s := newStack(t)
	for name, setting := range map[string]string{"ingest": "CYBERIMAGE_REPLICAS=3", "gpu-runner": "CYBERIMAGE_ACK_WAIT=5m",
		"supervisor": "CYBERIMAGE_MAX_DELIVER=9"} {
		cmd := exec.Command(bins[name])
		cmd.Dir = testenv.RepoRoot(t)
		cmd.Env = slices.Concat(s.roleEnv(name, "runner-settings"), os.Environ(), s.env,
			[]string{setting, "CYBERIMAGE_SUPERVISOR_ADDR=127.0.0.1:0", "CYBERIMAGE_INGEST_ADDR="})
		done := make(chan error, 1)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		require.NoError(t, cmd.Start())
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			var exit *exec.ExitError
			require.True(t, errors.As(err, &exit), "%s: %v", name, err)
			require.Equal(t, 2, exit.ExitCode(), "%s:\n%s", name, out.String())
			variable, _, _ := strings.Cut(setting, "=")
			require.Contains(t, out.String(), variable, name)
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatalf("%s started against other settings:\n%s", name, out.String())
		}
	}
	cons, err := s.js.Consumer(t.Context(), bus.StreamJobs, bus.RunnerConsumer("demo"))
	require.NoError(t, err)
	require.Equal(t, bus.DefaultSettings().AckWait, cons.CachedInfo().Config.AckWait, "untouched")
}
