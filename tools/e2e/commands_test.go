package e2e

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// buildCommands builds tools/cmd binaries into a temporary folder.
func buildCommands(t *testing.T, names ...string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	out := map[string]string{}
	for _, name := range names {
		bin := filepath.Join(dir, name)
		cmd := exec.Command("go", "build", "-o", bin, "cyberimage/tools/cmd/"+name)
		cmd.Stderr = os.Stderr
		require.NoError(t, cmd.Run(), "build %s", name)
		out[name] = bin
	}
	return out
}

// runCommand runs a binary to its end within limit and returns its output
// (stdout and stderr) and exit status.
func runCommand(t *testing.T, limit time.Duration, bin string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, ctx.Err(), "%s %v did not end within %s:\n%s", filepath.Base(bin), args, limit, out)
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return string(out), exit.ExitCode()
	}
	require.NoError(t, err)
	return string(out), 0
}
