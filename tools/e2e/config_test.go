package e2e

import (
	"errors"
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/require"
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
