package e2e

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"cyberimage/shared/natsauth"
	"cyberimage/tools/internal/s3access"
)

// unit is a systemd unit file: each key's values, in order.
type unit map[string][]string

func readUnit(t *testing.T, path string) unit {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	u := unit{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "[") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		require.True(t, ok, "%s: %q is not key=value", path, line)
		u[k] = append(u[k], v)
	}
	return u
}

// TestSystemdUnitsMatchTheCode: the units in infra/systemd start the
// binaries make build makes, with settings the binaries know, the
// credentials of each service's own role (NATS creds file and MinIO user),
// and a restart policy that restarts on failure (a runner's exit 3 after a
// wedged inference included) but not on invalid settings (exit 2).
func TestSystemdUnitsMatchTheCode(t *testing.T) {
	dir := repoPath(t, "infra", "systemd")
	tools := buildCommands(t, "provision")
	binaries := map[string]string{"ingest": bins["ingest"], "gpu-runner": bins["gpu-runner"], "supervisor": bins["supervisor"], "provision": tools["provision"]}
	roles := map[string]natsauth.Role{"provision": natsauth.Admin}
	for name, role := range serviceRoles {
		roles[name] = role
	}
	s3Users := map[string]s3access.Role{"gpu-runner": s3access.Runner, "supervisor": s3access.Supervisor}

	units, err := filepath.Glob(filepath.Join(dir, "cyberimage-*.service"))
	require.NoError(t, err)
	require.Len(t, units, 4, "provision, ingest, supervisor and the runner template")
	shared := map[string]bool{}
	for _, path := range units {
		u := readUnit(t, path)
		require.Len(t, u["ExecStart"], 1, path)
		exe := strings.Fields(u["ExecStart"][0])[0]
		name := filepath.Base(exe)
		bin, ok := binaries[name]
		require.True(t, ok, "%s starts %s, which make build does not make", path, exe)
		known := settingsOf(bin)
		for _, env := range u["Environment"] {
			k, v, _ := strings.Cut(env, "=")
			require.True(t, known[k], "%s sets %s, which %s does not read", path, k, name)
			if k == "CYBERIMAGE_NATS_CREDS" {
				want := filepath.Base(natsauth.CredsPath("", roles[name]))
				if roles[name] == natsauth.Runner {
					// Each runner has its own identity, named by host and instance.
					want = filepath.Base(natsauth.IdentityCredsPath("", natsauth.Runner, "%l-%i"))
				}
				require.Equal(t, want, filepath.Base(v), "%s: %s connects as its own identity", path, name)
			}
		}
		if role, ok := s3Users[name]; ok {
			require.Contains(t, u["EnvironmentFile"], filepath.Join("/etc/cyberimage/creds", filepath.Base(s3access.EnvFile("", role))),
				"%s: %s gets its own MinIO user, as provision writes it", path, name)
		}
		require.Equal(t, []string{"on-failure"}, u["Restart"], path)
		require.Equal(t, []string{"2"}, u["RestartPreventExitStatus"], "%s: invalid settings (exit 2) are not restarted in a loop", path)
		for k := range known {
			shared[k] = true
		}
	}
	// systemd itself reads the units (where it is installed): unknown keys,
	// bad values and syntax errors fail; only the binaries' absence from
	// /usr/local/bin (installed at deployment) is expected here.
	if analyze, err := exec.LookPath("systemd-analyze"); err == nil {
		all, err := filepath.Glob(filepath.Join(dir, "*.service"))
		require.NoError(t, err)
		out, _ := exec.Command(analyze, append([]string{"verify"}, all...)...).CombinedOutput()
		notInstalled := regexp.MustCompile(`^\S+: Command /usr/local/bin/\S+ is not executable: No such file or directory$`)
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			require.True(t, line == "" || notInstalled.MatchString(line), "systemd-analyze verify: %s", line)
		}
	}
	// The shared environment file names only settings some service reads.
	u := readUnit(t, filepath.Join(dir, "cyberimage.env.example"))
	require.NotEmpty(t, u)
	for k := range u {
		require.True(t, shared[k], "cyberimage.env.example sets %s, which no service reads", k)
	}
}
